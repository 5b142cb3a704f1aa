"""The citizen's notification inbox.

Other domains call `notify(conn, citizen_id, kind, ...)` inside the transaction of the change that
causes the message (a case received, a 补正 request, a pension reminder): the row exists exactly when the
change does, and with `sms=True` a text message goes out through the SMS gateway in that transaction too
(the development gateway writes it to `sms_outbox`). The phone is decrypted only to hand it to the
gateway; it is never logged or returned. Notifications are not audited one by one: the change that
writes them is, in the same transaction. Reading the inbox and marking it read are audited.
"""

from __future__ import annotations

import re
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database, write_later
from backend.errors import NotFound
from backend.identity.sms import SmsGateway
from backend.notifications import repository
from backend.notifications.schemas import (
    NotificationPage,
    NotificationView,
    Order,
    ReadAll,
    Subject,
    Text,
)

# A kind is a dotted lower-case name: `case.received`, `pension.reminder`.
_KIND = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
_SUBJECT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Longest stored texts (title, body) in Chinese and English; longer text is cut with an ellipsis rather
# than failing the change that writes it.
TITLE_LIMITS = (100, 200)
BODY_LIMITS = (500, 1000)
SMS_SIGNATURE = "【通办】"


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fitted(text: Text, limits: tuple[int, int]) -> tuple[str, str]:
    zh, en = _cut(text.zh, limits[0]), _cut(text.en, limits[1])
    if not zh or not en:
        raise ValueError("a notification needs its text in Chinese and in English")
    return zh, en


def _view(row: asyncpg.Record) -> NotificationView:
    subject = Subject(row["subject_type"], row["subject_id"]) if row["subject_type"] else None
    return NotificationView(id=row["id"], kind=row["kind"], title=Text(row["title_zh"], row["title_en"]),
                            body=Text(row["body_zh"], row["body_en"]), subject=subject, sms=row["sms"],
                            created_at=row["created_at"], read_at=row["read_at"])


def sms_text(title: Text, body: Text) -> str:
    """What a text message says: the signature, then the Chinese title and body."""
    return f"{SMS_SIGNATURE}{title.zh.strip()}：{body.zh.strip()}"


class NotificationService:
    def __init__(self, db: Database, audit: AuditLog, sms: SmsGateway) -> None:
        self.db, self.audit, self.sms = db, audit, sms

    async def notify(
        self, conn: asyncpg.Connection, citizen_id: uuid.UUID, kind: str, *, title: Text, body: Text,
        subject: Subject | None = None, sms: bool = False,
    ) -> uuid.UUID:
        """Write a notification for the citizen in the caller's transaction (and, with `sms`, send it as a
        text message to the phone on record); return its id. Both rows go with the transaction's next
        statement (`write_later`): one round trip fewer for the change they report.

        `kind` is a dotted lower-case name (`case.received`); `subject` names what it is about (`case`,
        the case id). Texts longer than the inbox keeps are shortened, never refused: a message must not
        fail the change it reports. A malformed `kind` or subject is a programming error (`ValueError`).
        """
        if not _KIND.fullmatch(kind) or len(kind) > 64:
            raise ValueError(f"notification kind {kind!r} is not a dotted lower-case name")
        if subject is not None and (not _SUBJECT_TYPE.fullmatch(subject.type) or not 1 <= len(subject.id) <= 64):
            raise ValueError(f"notification subject {subject!r} is malformed")
        title_texts, body_texts = _fitted(title, TITLE_LIMITS), _fitted(body, BODY_LIMITS)
        message = [self.sms.to_citizen(citizen_id, sms_text(Text(*title_texts), Text(*body_texts)), name="sms")] if sms else []
        notification_id = uuid.uuid4()
        await write_later(conn, *message, repository.insert(notification_id, citizen_id, kind, title_texts, body_texts,
                                                            (subject.type, subject.id) if subject else None,
                                                            "sms" if sms else None))
        return notification_id

    async def notify_many(self, conn: asyncpg.Connection,
                          notices: list[tuple[uuid.UUID, str, Text, Text, Subject | None]]) -> None:
        """Many inbox notifications (citizen, kind, title, body, subject) in one statement, in the caller's
        transaction: for bulk jobs; inbox only, no text messages."""
        if not notices:
            return
        rows = []
        for citizen_id, kind, title, body, subject in notices:
            if not _KIND.fullmatch(kind) or len(kind) > 64:
                raise ValueError(f"notification kind {kind!r} is not a dotted lower-case name")
            rows.append((citizen_id, kind, *_fitted(title, TITLE_LIMITS), *_fitted(body, BODY_LIMITS),
                         subject.type if subject else None, subject.id if subject else None))
        await repository.insert_many(conn, rows)

    async def inbox(self, actor: Actor, *, order: Order = "unread_first", unread_only: bool = False,
                    limit: int = 20, offset: int = 0) -> NotificationPage:
        """The signed-in citizen's notifications, a page at a time, with the unread count. Audited."""
        citizen_id = uuid.UUID(actor.id)
        async with self.db.connection() as conn:
            rows = await repository.page(conn, citizen_id, order, unread_only, limit, offset)
            counts = await repository.counts(conn, citizen_id)
        await self.audit.record_read(actor, "notification.listed", "citizen", actor.id,
                                     detail={"count": len(rows), "offset": offset, "unread_only": unread_only})
        total = counts["unread"] if unread_only else counts["total"]
        return NotificationPage(items=[_view(r) for r in rows], total=total, unread=counts["unread"],
                                limit=limit, offset=offset)

    async def mark_read(self, actor: Actor, notification_id: uuid.UUID) -> NotificationView:
        """Mark one of the citizen's notifications read; someone else's looks exactly like a missing one
        (and the attempt is audited)."""
        citizen_id = uuid.UUID(actor.id)
        async with self.db.transaction() as conn:
            row = await repository.mark_read(conn, citizen_id, notification_id)
            if row is None:
                if await repository.owner(conn, notification_id) is not None:
                    await self.audit.record_refusal(self.db, actor, "notification.read_refused", "notification",
                                                    str(notification_id))
                raise NotFound("no such notification among yours")
            await self.audit.record(conn, actor, "notification.read", "notification", str(notification_id),
                                    detail={"kind": row["kind"]})
        return _view(row)

    async def mark_all_read(self, actor: Actor) -> ReadAll:
        citizen_id = uuid.UUID(actor.id)
        async with self.db.transaction() as conn:
            marked = await repository.mark_all_read(conn, citizen_id)
            await self.audit.record(conn, actor, "notification.read_all", "citizen", actor.id,
                                    detail={"marked": marked})
        return ReadAll(marked=marked, unread=0)
