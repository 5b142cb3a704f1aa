"""SQL of the citizen's changeable information and the log of its changes."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

# The columns each kind of information is stored in.
COLUMNS = {
    "address": ("address_division", "address_enc", "address_masked"),
    "emergency_contact": ("emergency_contact_enc", "emergency_contact_masked"),
    "bank_account": ("bank_name", "bank_account_enc", "bank_account_masked"),
}


async def update(conn: asyncpg.Connection, citizen_id: uuid.UUID, kind: str, values: dict[str, Any]) -> str | None:
    """Store one kind of information; return the citizen's home division (None: no such citizen)."""
    columns = COLUMNS[kind]
    assert set(values) == set(columns)
    assignments = ", ".join(f"{c} = ${n}" for n, c in enumerate(columns, start=2))
    return await conn.fetchval(
        f"UPDATE citizens SET {assignments}, updated_at = now() WHERE id = $1 RETURNING home_division",
        citizen_id, *(values[c] for c in columns))


async def masked_information(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT home_division, address_masked, address_division, emergency_contact_masked, bank_name,
                  bank_account_masked,
                  (SELECT jsonb_object_agg(kind, changed_at) FROM (
                       SELECT kind, max(changed_at) AS changed_at FROM citizen_information_changes
                       WHERE citizen_id = $1 GROUP BY kind) last) AS changed_at
           FROM citizens WHERE id = $1""", citizen_id)


async def insert_change(conn: asyncpg.Connection, change_id: uuid.UUID, citizen_id: uuid.UUID, kind: str,
                        level: str, masked: dict[str, Any], event_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO citizen_information_changes (id, citizen_id, kind, assurance_level, masked, event_id)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, kind, assurance_level, masked, event_id, changed_at""",
        change_id, citizen_id, kind, level, masked, event_id)


async def changes(conn: asyncpg.Connection, citizen_id: uuid.UUID, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, kind, assurance_level, masked, event_id, changed_at FROM citizen_information_changes
           WHERE citizen_id = $1 ORDER BY changed_at DESC, id LIMIT $2 OFFSET $3""", citizen_id, limit, offset)


async def has_changed(conn: asyncpg.Connection, citizen_id: uuid.UUID, kind: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM citizen_information_changes WHERE citizen_id = $1 AND kind = $2 LIMIT 1", citizen_id, kind))
