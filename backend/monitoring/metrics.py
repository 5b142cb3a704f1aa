"""Prometheus counters of cases: national totals only, never a division or a person (those figures are
scoped and served to supervisors by `/staff/monitoring/cases`). Counted when the change is written, in
its transaction: one rolled back afterwards (a later step of the same request failing) still counts."""

from __future__ import annotations

from prometheus_client import Counter

CASES_APPLIED = Counter("tongban_cases_applied_total", "Cases applied for (办件申请), by mode", ["mode"])
CASE_TRANSITIONS = Counter("tongban_case_transitions_total", "Case state transitions applied, by action", ["action"])
CASE_RATINGS = Counter("tongban_case_ratings_total", "Ratings of cases (好差评), by score", ["score"])
