"""Supervision of cases (办件监管): figures per division and date range for supervisors; unscoped counters."""
