"""SQL of cases' hand-over exchange records (`case_exchanges`, migration 023)."""

from __future__ import annotations

import uuid

import asyncpg

COLUMNS = "id, case_id, case_number, seq, kind, body, digest, signature, signing_key_id, created_at"


async def chain(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {COLUMNS} FROM case_exchanges WHERE case_id = $1 ORDER BY seq", case_id)


async def chain_by_number(conn: asyncpg.Connection, case_number: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {COLUMNS} FROM case_exchanges WHERE case_number = $1 ORDER BY seq",
                            case_number)


async def insert(conn: asyncpg.Connection, *, case_id: uuid.UUID, case_number: str, seq: int, kind: str,
                 body: bytes, digest: bytes, signature: bytes, signing_key_id: uuid.UUID) -> asyncpg.Record | None:
    """The new entry, or None when the case already has an entry at `seq` (a concurrent hand-over won)."""
    return await conn.fetchrow(
        f"""INSERT INTO case_exchanges (case_id, case_number, seq, kind, body, digest, signature, signing_key_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (case_id, seq) DO NOTHING RETURNING {COLUMNS}""",
        case_id, case_number, seq, kind, body, digest, signature, signing_key_id)
