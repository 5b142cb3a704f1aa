"""Prometheus counters of cases: national totals only, never a division or a person (those figures are
scoped and served to supervisors by `/staff/monitoring/cases`). Counted when the change is written, in
its transaction: one rolled back afterwards (a later step of the same request failing) still counts.

The counters are made on first use, not at import: `prometheus_client` picks in-process or multi-process
values when it is first imported, and `tongban serve --workers N` sets `PROMETHEUS_MULTIPROC_DIR` only
after the command line (which imports the services) has loaded — counters made at import would keep every
worker's counts to itself and leave `/metrics` empty.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _counter(name: str, documentation: str, label: str) -> Any:
    from prometheus_client import Counter

    return Counter(name, documentation, [label])


def case_applied(mode: str) -> None:
    _counter("tongban_cases_applied_total", "Cases applied for (办件申请), by mode", "mode").labels(mode=mode).inc()


def case_transition(action: str) -> None:
    _counter("tongban_case_transitions_total", "Case state transitions applied, by action",
             "action").labels(action=action).inc()


def case_rated(score: int) -> None:
    _counter("tongban_case_ratings_total", "Ratings of cases (好差评), by score", "score").labels(score=str(score)).inc()
