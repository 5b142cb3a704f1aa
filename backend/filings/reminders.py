"""Reminders before a filing window closes: everyone who may file for an obligation whose current
period is still due gets an inbox message 30 days before the window closes, and again (with a text
message) 7 days before. Each reminder is sent once per obligation, period and stage, however often
and on however many workers the job runs."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.filings import repository
from backend.filings.kinds import OBLIGATION_KINDS, ObligationKind
from backend.filings.obligations import overview_window
from backend.notifications.schemas import Subject, Text
from backend.notifications.service import NotificationService

# (stage, days before the window closes from which it is sent, with a text message)
STAGES = (("7d", 7, True), ("30d", 30, False))
_PAGE = 500


def stage_for(days_left: int) -> tuple[str, bool] | None:
    """The reminder due with `days_left` days to go (the latest stage reached), or None."""
    for stage, days, sms in STAGES:
        if 0 <= days_left <= days:
            return stage, sms
    return None


def _candidate_periods(kind: ObligationKind, today: dt.date) -> list[int]:
    """Periods whose window may be open today: for a fixed window the one it holds, for an
    anniversary window this year's and last year's (a window may run past the new year)."""
    if kind.window.needs_anchor:
        return [today.year - 1, today.year]
    period = kind.window.latest_opened_period(today)
    return [period] if kind.window.window(period).is_open(today) else []


class FilingReminders:
    def __init__(self, db: Database, audit: AuditLog, notifications: NotificationService,
                 today: Callable[[], dt.date]) -> None:
        self.db, self.audit, self.notifications, self.today = db, audit, notifications, today

    async def send_due(self, progress: Callable[[str], None] = lambda _: None) -> int:
        """Send the reminders due today; return how many obligations were reminded."""
        today, sent = self.today(), 0
        for kind in OBLIGATION_KINDS.values():
            for period in _candidate_periods(kind, today):
                after: uuid.UUID | None = None
                while True:
                    async with self.db.connection() as conn:
                        rows = await repository.overview(conn, status="due", after=after, limit=_PAGE,
                                                         **overview_window(kind, period, "", today))
                    for row in rows:
                        sent += await self._remind(kind, period, row["id"], row["closes"], today)
                    if len(rows) < _PAGE:
                        break
                    after = rows[-1]["id"]
        progress(f"filing reminders: {sent} obligation(s) reminded")
        return sent

    async def _remind(self, kind: ObligationKind, period: int, obligation_id: uuid.UUID, closes: dt.date,
                      today: dt.date) -> int:
        due = stage_for((closes - today).days)
        if due is None:
            return 0
        stage, sms = due
        async with self.db.transaction() as conn:
            if not await repository.claim_reminder(conn, obligation_id, period, stage):
                return 0
            obligation = await repository.obligation(conn, obligation_id)
            title = Text(f"{kind.name}即将截止", f"{kind.name}: the filing window closes soon")
            body = Text(
                f"{obligation['subject_name']}的{period}年度{kind.name}尚未提交，申报期至{closes:%Y年%m月%d日}截止，"
                "逾期提交将被标记为逾期。",
                f"{obligation['subject_name']} has not filed the {period} {kind.code.replace('_', ' ')}; the window "
                f"closes on {closes.isoformat()}, and a filing after it is marked late.")
            citizens = await repository.acting_citizens(conn, obligation_id)
            for citizen_id in citizens:
                await self.notifications.notify(conn, citizen_id, "filing.reminder", title=title, body=body,
                                                subject=Subject("filing_obligation", str(obligation_id)), sms=sms)
            await self.audit.record(conn, Actor.system(), "filing.reminder_sent", "filing_obligation",
                                    str(obligation_id), division=obligation["division_code"],
                                    detail={"period": period, "stage": stage, "recipients": len(citizens)})
        return 1

