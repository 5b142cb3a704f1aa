"""Prometheus counters of cases: national totals only, never a division or a person (those figures are
scoped and served to supervisors by `/staff/monitoring/cases`). Counted when the change is written, in
its transaction: one rolled back afterwards (a later step of the same request failing) still counts.

prometheus_client is imported on first use, not with this module: `tongban serve --workers N` imports the
backend before it sets PROMETHEUS_MULTIPROC_DIR, and prometheus_client fixes how it stores values when it
is imported (a value kept in process memory is lost to the other workers' /metrics)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _counters() -> dict[str, Any]:
    from prometheus_client import Counter

    return {
        "applied": Counter("tongban_cases_applied_total", "Cases applied for (办件申请), by mode", ["mode"]),
        "transitions": Counter("tongban_case_transitions_total", "Case state transitions applied, by action",
                               ["action"]),
        "ratings": Counter("tongban_case_ratings_total", "Ratings of cases (好差评), by score", ["score"]),
    }


def count_application(mode: str) -> None:
    _counters()["applied"].labels(mode=mode).inc()


def count_transition(action: str) -> None:
    _counters()["transitions"].labels(action=action).inc()


def count_rating(score: int) -> None:
    _counters()["ratings"].labels(score=str(score)).inc()
