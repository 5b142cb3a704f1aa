"""SQL of the audit log: the only place that reads or appends entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg

_LOCK_KEY = 7_316_002_002  # serialises appends so the chain has one order


async def lock_chain(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)


async def last_entry(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")


async def head(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT seq, hash, seal FROM audit_head")


async def append(conn: asyncpg.Connection, entry: dict[str, Any], seal: bytes) -> None:
    await conn.execute(
        """INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, record_type, record_id,
                                  division_code, request_id, detail, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        entry["seq"], entry["at"], entry["actor_kind"], entry["actor_id"], entry["action"],
        entry["record_type"], entry["record_id"], entry["division_code"], entry["request_id"],
        entry["detail"], entry["prev_hash"], entry["hash"],
    )
    await conn.execute(
        """INSERT INTO audit_head (singleton, seq, hash, seal) VALUES (true, $1, $2, $3)
           ON CONFLICT (singleton) DO UPDATE SET seq = $1, hash = $2, seal = $3""",
        entry["seq"], entry["hash"], seal,
    )


async def iterate(conn: asyncpg.Connection, batch: int = 5000) -> AsyncIterator[asyncpg.Record]:
    """Every entry in chain order, fetched with a server-side cursor."""
    async for row in conn.cursor("SELECT * FROM audit_log ORDER BY seq", prefetch=batch):
        yield row


async def for_record(
    conn: asyncpg.Connection, record_type: str, record_id: str, limit: int = 200
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT seq, at, actor_kind, actor_id, action, record_type, record_id, division_code,
                  request_id, detail
           FROM audit_log WHERE record_type = $1 AND record_id = $2 ORDER BY seq DESC LIMIT $3""",
        record_type, record_id, limit,
    )
