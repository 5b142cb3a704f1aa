"""SQL of the audit log: the only place that reads or appends entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg

CHAINS = 8
_LOCK_BASE = 7_316_002_100  # advisory lock keys _LOCK_BASE .. _LOCK_BASE + CHAINS - 1


async def lock_chain_tip(conn: asyncpg.Connection) -> asyncpg.Record:
    """Lock the current transaction's chain; return (chain, seq, hash) of its newest entry.

    One transaction always appends to one chain and so never holds two chain locks (no lock-order
    deadlocks), while concurrent transactions spread over the chains.
    """
    return await conn.fetchrow("SELECT chain, seq, hash FROM audit_chain_tip($1, $2)", CHAINS, _LOCK_BASE)


async def lock_free_chain_tip(conn: asyncpg.Connection) -> asyncpg.Record:
    """Like `lock_chain_tip`, but on the first chain whose lock is free: for a transaction that runs
    beside another of the same task, which may hold its own chain's lock until it ends."""
    return await conn.fetchrow("SELECT chain, seq, hash FROM audit_free_chain_tip($1, $2)", CHAINS, _LOCK_BASE)


async def heads(conn: asyncpg.Connection) -> dict[int, asyncpg.Record]:
    return {r["chain"]: r for r in await conn.fetch("SELECT chain, seq, hash, seal FROM audit_head")}


async def append(conn: asyncpg.Connection, entry: dict[str, Any], seal: bytes) -> None:
    await conn.execute(
        """WITH appended AS (
               INSERT INTO audit_log (chain, seq, at, actor_kind, actor_id, action, record_type, record_id,
                                      division_code, request_id, detail, prev_hash, hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13))
           INSERT INTO audit_head (chain, seq, hash, seal) VALUES ($1, $2, $13, $14)
           ON CONFLICT (chain) DO UPDATE SET seq = $2, hash = $13, seal = $14""",
        entry["chain"], entry["seq"], entry["at"], entry["actor_kind"], entry["actor_id"], entry["action"],
        entry["record_type"], entry["record_id"], entry["division_code"], entry["request_id"],
        entry["detail"], entry["prev_hash"], entry["hash"], seal,
    )


async def iterate(conn: asyncpg.Connection, batch: int = 5000) -> AsyncIterator[asyncpg.Record]:
    """Every entry, chain by chain in sequence order, through a server-side cursor."""
    async for row in conn.cursor("SELECT * FROM audit_log ORDER BY chain, seq", prefetch=batch):
        yield row


async def for_record(
    conn: asyncpg.Connection, record_type: str, record_id: str, limit: int = 200
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT at, actor_kind, actor_id, action, record_type, record_id, division_code,
                  request_id, detail
           FROM audit_log WHERE record_type = $1 AND record_id = $2 ORDER BY at DESC LIMIT $3""",
        record_type, record_id, limit,
    )
