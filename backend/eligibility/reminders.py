"""Reminders 30 and 7 days before a recognition is due and when it becomes overdue: to the pensioner
and to each authorised relative, in the inbox and by SMS. A scheduled job; each (entry, reminder,
due date) is sent once however often the job runs, by however many workers."""

from __future__ import annotations

import datetime as dt

from backend.china_time import today as china_today
from backend.db import Database
from backend.eligibility import repository
from backend.notifications.schemas import Subject, Text
from backend.notifications.service import NotificationService

BATCH = 500
TEXTS: dict[str, tuple[str, str, str, str]] = {
    "due-30": ("养老金资格认证 30 天后到期", "Pension recognition due in 30 days",
               "请在 {due} 前完成养老金领取资格认证：手机刷脸、亲属代办、自助终端或窗口，也可预约上门认证。",
               "Please be recognised for your pension by {due}: phone face check, a relative, a kiosk or a "
               "window, or book a home visit."),
    "due-7": ("养老金资格认证 7 天后到期", "Pension recognition due in 7 days",
              "请在 {due} 前完成养老金领取资格认证，逾期可能暂停发放。",
              "Please be recognised for your pension by {due}; after that payment may be suspended."),
    "overdue": ("养老金资格认证已逾期", "Pension recognition overdue",
                "养老金领取资格认证已于 {due} 到期，请尽快认证，以免暂停发放。认证后即恢复并补发。",
                "Pension recognition was due on {due}. Please be recognised soon so that payment is not "
                "suspended; once recognised it resumes with back-pay."),
}
RELATIVE_PREFIX = ("（您代办的亲属）", "(for the relative you assist) ")


async def send_reminders(db: Database, notifications: NotificationService, today: dt.date | None = None) -> int:
    """Send every reminder that has become due; return how many entries were reminded."""
    today = today or china_today()
    sent = 0
    while True:
        async with db.transaction() as conn:
            due = await repository.reminders_due(conn, today, BATCH)
            for row in due:
                if not await repository.mark_reminded(conn, row["id"], row["kind"], row["next_due"]):
                    continue  # another worker sent it a moment ago
                title_zh, title_en, body_zh, body_en = TEXTS[row["kind"]]
                body = Text(body_zh.format(due=row["next_due"]), body_en.format(due=row["next_due"]))
                subject = Subject("pension_roster_entry", str(row["id"]))
                await notifications.notify(conn, row["citizen_id"], f"pension.{row['kind'].replace('-', '_')}",
                                           title=Text(title_zh, title_en), body=body, subject=subject, sms=True)
                for relative in await repository.relative_ids(conn, row["citizen_id"]):
                    await notifications.notify(
                        conn, relative, f"pension.relative_{row['kind'].replace('-', '_')}",
                        title=Text(RELATIVE_PREFIX[0] + title_zh, RELATIVE_PREFIX[1] + title_en),
                        body=body, subject=subject, sms=True)
                sent += 1
        if len(due) < BATCH:
            return sent
