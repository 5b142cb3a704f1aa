"""SQL of the notification inbox."""

from __future__ import annotations

import uuid

import asyncpg

from backend.db import Write

_COLUMNS = "id, kind, title_zh, title_en, body_zh, body_en, subject_type, subject_id, sms, created_at, read_at"
_ORDER = {
    "newest": "created_at DESC, id DESC",
    "unread_first": "(read_at IS NOT NULL), created_at DESC, id DESC",
}


def insert(notification_id: uuid.UUID, citizen_id: uuid.UUID, kind: str, title: tuple[str, str],
           body: tuple[str, str], subject: tuple[str, str] | None, sms: str | None) -> Write:
    """The inbox row; `sms` names the write that queued its text message (`sms` is true when that
    queued one), or None when none was asked for."""
    subject_type, subject_id = subject or (None, None)
    sent = f"EXISTS (SELECT 1 FROM {{{sms}}})" if sms else "false"
    return Write(
        f"""INSERT INTO notifications (id, citizen_id, kind, title_zh, title_en, body_zh, body_en, subject_type,
                                       subject_id, sms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {sent})""",
        (notification_id, citizen_id, kind, *title, *body, subject_type, subject_id))


async def insert_many(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """Many inbox rows in one statement: (citizen, kind, title zh, title en, body zh, body en, subject type,
    subject id)."""
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        """INSERT INTO notifications (citizen_id, kind, title_zh, title_en, body_zh, body_en, subject_type, subject_id,
                                      sms)
           SELECT *, false FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                       $7::text[], $8::text[])""", *columns)


async def page(conn: asyncpg.Connection, citizen_id: uuid.UUID, order: str, unread_only: bool, limit: int,
               offset: int) -> list[asyncpg.Record]:
    unread = "AND read_at IS NULL" if unread_only else ""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM notifications WHERE citizen_id = $1 {unread}
            ORDER BY {_ORDER[order]} LIMIT $2 OFFSET $3""",
        citizen_id, limit, offset)


async def counts(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> asyncpg.Record:
    """(total, unread) of the citizen's notifications."""
    return await conn.fetchrow(
        """SELECT count(*) AS total, count(*) FILTER (WHERE read_at IS NULL) AS unread
           FROM notifications WHERE citizen_id = $1""",
        citizen_id)


async def owner(conn: asyncpg.Connection, notification_id: uuid.UUID) -> uuid.UUID | None:
    return await conn.fetchval("SELECT citizen_id FROM notifications WHERE id = $1", notification_id)


async def mark_read(conn: asyncpg.Connection, citizen_id: uuid.UUID,
                    notification_id: uuid.UUID) -> asyncpg.Record | None:
    """Mark one of the citizen's notifications read (the first reading time stays)."""
    return await conn.fetchrow(
        f"""UPDATE notifications SET read_at = coalesce(read_at, now())
            WHERE id = $1 AND citizen_id = $2 RETURNING {_COLUMNS}""",
        notification_id, citizen_id)


async def mark_all_read(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> int:
    status = await conn.execute(
        "UPDATE notifications SET read_at = now() WHERE citizen_id = $1 AND read_at IS NULL", citizen_id)
    return int(status.split()[-1])
