"""Supervision figures (办件监管) for a division and a date range: cases by item, mode, division and
state; the on-time rate; 补正 rate and counts; each stage's p50/p90; ratings. Supervisors and admins see
their own division and any inside it; every report is audited."""

from __future__ import annotations

import datetime as dt

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.china_time import CHINA_TIME, today
from backend.db import Database
from backend.errors import Forbidden, OutsideDivision, ValidationFailed
from backend.identity import divisions
from backend.monitoring.schemas import CaseReport, Count, OnTime, RatingFigures, StageTimes, Supplements

MONITOR_ROLES = frozenset({"supervisor", "admin"})
MAX_DAYS = 366
# Cases exist from the service's start; a range far outside it is a mistake, not a question (and year 1 or
# 9999 cannot be counted in).
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2200, 12, 31)
OPEN_STATES = ("accepted", "in_review", "supplement_requested", "supplemented")
_DIMENSIONS = {"item": "item_code", "mode": "mode", "receiving_division": "receiving_division",
               "handling_division": "handling_division", "state": "state"}
_STAGES = {"handover": "handover_seconds", "review": "review_seconds", "delivery": "delivery_seconds"}

_COHORT = """WITH c AS (SELECT * FROM cases
                         WHERE (receiving_division LIKE $1 OR handling_division LIKE $1)
                           AND created_at >= $2 AND created_at < $3)"""


class MonitoringService:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db, self.audit = db, audit

    async def case_report(self, actor: Actor, date_from: dt.date, date_to: dt.date,
                          division: str | None = None) -> CaseReport:
        if actor.kind != "staff" or actor.role not in MONITOR_ROLES:
            raise Forbidden("only supervisors and admins read case figures")
        scope = division or actor.division or ""
        try:  # the query parameter's pattern is not applied to an optional one
            divisions.check_division(scope, allow_national=True)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("division", str(exc)) from None
        if not divisions.within(actor.division or "", scope):
            raise OutsideDivision(f"{scope} is outside your division {actor.division}")
        for name, day in (("from", date_from), ("to", date_to)):
            if not EARLIEST <= day <= LATEST:
                raise ValidationFailed.field(name, f"a day from {EARLIEST} to {LATEST}")
        if date_to < date_from:
            raise ValidationFailed.field("to", "the range ends before it starts")
        if (date_to - date_from).days >= MAX_DAYS:
            raise ValidationFailed.field("to", f"a report covers at most {MAX_DAYS} days")
        prefix = divisions.scope_prefix(scope) + "%"
        start = dt.datetime.combine(date_from, dt.time(), CHINA_TIME)
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), CHINA_TIME)
        async with self.db.connection() as conn:
            grouped = await conn.fetch(
                f"{_COHORT} "
                + " UNION ALL ".join(f"SELECT '{name}' AS dimension, {column}::text AS key, count(*) FROM c GROUP BY {column}"
                                     for name, column in _DIMENSIONS.items())
                + " ORDER BY dimension, count DESC, key", prefix, start, end)
            stage_columns = ", ".join(
                f"count({c}) AS {s}_n, percentile_cont(0.5) WITHIN GROUP (ORDER BY {c}) AS {s}_p50, "
                f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {c}) AS {s}_p90" for s, c in _STAGES.items())
            totals = await conn.fetchrow(
                f"""{_COHORT}
                    SELECT count(*) AS cases,
                           count(*) FILTER (WHERE decided_at IS NOT NULL AND deadline IS NOT NULL) AS decided,
                           count(*) FILTER (WHERE decided_at IS NOT NULL AND deadline IS NOT NULL
                                              AND (decided_at AT TIME ZONE 'Asia/Shanghai')::date <= deadline) AS on_time,
                           count(*) FILTER (WHERE decided_at IS NULL AND deadline < $4 AND paused_since IS NULL
                                              AND state = ANY($5::text[])) AS overdue_open,
                           count(*) FILTER (WHERE supplement_count > 0) AS supplemented,
                           coalesce(sum(supplement_count), 0) AS supplements,
                           count(*) FILTER (WHERE calendar_estimated) AS calendar_estimated,
                           {stage_columns}
                      FROM c""", prefix, start, end, today(), list(OPEN_STATES))
            ratings = await conn.fetch(
                """SELECT r.score, count(*) FROM case_ratings r JOIN cases c ON c.id = r.case_id
                    WHERE (c.receiving_division LIKE $1 OR c.handling_division LIKE $1)
                      AND r.rated_at >= $2 AND r.rated_at < $3 GROUP BY r.score""", prefix, start, end)
            open_follow_ups = await conn.fetchval(
                "SELECT count(*) FROM rating_follow_ups WHERE division_code LIKE $1 AND state = 'open'", prefix)
        await self.audit.record_read(actor, "case_report.read", "division", scope, division=scope,
                                     detail={"from": date_from.isoformat(), "to": date_to.isoformat()})
        by = {name: [Count(r["key"], r["count"]) for r in grouped if r["dimension"] == name] for name in _DIMENSIONS}
        cases, decided, supplemented = totals["cases"], totals["decided"], totals["supplemented"]
        distribution = {str(score): 0 for score in range(1, 6)} | {str(r["score"]): r["count"] for r in ratings}
        rated = sum(distribution.values())
        return CaseReport(
            division=scope, date_from=date_from, date_to=date_to, cases=cases,
            by_item=by["item"], by_mode=by["mode"], by_receiving_division=by["receiving_division"],
            by_handling_division=by["handling_division"], by_state=by["state"],
            on_time=OnTime(decided, totals["on_time"], _ratio(totals["on_time"], decided), totals["overdue_open"]),
            supplements=Supplements(supplemented, _ratio(supplemented, cases), _ratio(totals["supplements"], cases),
                                    _ratio(totals["supplements"], supplemented)),
            stages=[StageTimes(s, totals[f"{s}_n"], totals[f"{s}_p50"], totals[f"{s}_p90"]) for s in _STAGES],
            ratings=RatingFigures(rated, _ratio(sum(int(k) * v for k, v in distribution.items()), rated),
                                  distribution, open_follow_ups),
            calendar_estimated=totals["calendar_estimated"])


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
