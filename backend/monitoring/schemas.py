"""Wire shapes of the supervisors' case figures."""

from __future__ import annotations

import datetime as dt

import msgspec


class Count(msgspec.Struct):
    key: str
    count: int


class OnTime(msgspec.Struct):
    decided: int  # cases decided that had a deadline
    on_time: int  # of those, decided on or before it (China date; the deadline moved on after each 补正 pause)
    rate: float | None
    overdue_open: int  # undecided cases past their deadline today (not counting those paused for a 补正)


class Supplements(msgspec.Struct):
    cases_with_supplement: int
    rate: float | None  # share of the cases with at least one 补正 request
    average_per_case: float | None  # 补正 requests per case
    average_per_supplemented_case: float | None


class StageTimes(msgspec.Struct):
    stage: str  # handover (received → accepted), review (accepted → decided), delivery (decided → delivered)
    cases: int  # cases whose stage ended
    p50_seconds: float | None
    p90_seconds: float | None


class RatingFigures(msgspec.Struct):
    count: int
    average: float | None
    distribution: dict[str, int]  # "1" … "5"
    open_follow_ups: int


class CaseReport(msgspec.Struct):
    """Cases created in [date_from, date_to] (China dates) whose receiving or handling division lies within
    `division`; ratings given in those dates on such cases."""

    division: str
    date_from: dt.date
    date_to: dt.date
    cases: int
    by_item: list[Count]
    by_mode: list[Count]
    by_receiving_division: list[Count]
    by_handling_division: list[Count]
    by_state: list[Count]
    on_time: OnTime
    supplements: Supplements
    stages: list[StageTimes]
    ratings: RatingFigures
    calendar_estimated: int  # cases whose deadline was counted over a year without a holiday table
