"""SQL of the audit log: the only place that reads or appends entries."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

# The chains are configuration: every one of 0 .. CHAINS - 1 has a head (migration 017 made them), and
# a missing one is a broken chain, not an empty one. Changing this needs a migration adding heads.
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


async def claim_free_chain(conn: asyncpg.Connection, first: int) -> int | None:
    """Take the first chain, from `first` on, whose lock is free, with a session-level lock (held across
    statements and transactions until `release_chain`); None if every chain is busy."""
    for step in range(CHAINS):
        chain = (first + step) % CHAINS
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_BASE + chain):
            return chain
    return None


async def release_chain(conn: asyncpg.Connection, chain: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_BASE + chain)


async def head(conn: asyncpg.Connection, chain: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT chain, seq, hash FROM audit_head WHERE chain = $1", chain)


async def heads(conn: asyncpg.Connection) -> dict[int, asyncpg.Record]:
    return {r["chain"]: r for r in await conn.fetch("SELECT chain, seq, hash, seal FROM audit_head")}


async def append(conn: asyncpg.Connection, entries: list[dict[str, Any]], seal: bytes) -> None:
    """Append consecutive entries of one chain (whose lock this connection holds) and move its head
    to the last of them, in one statement (outside a transaction, it commits on its own)."""
    columns = list(zip(*((e["seq"], e["at"], e["actor_kind"], e["actor_id"], e["action"], e["record_type"],
                          e["record_id"], e["division_code"], e["request_id"], json.dumps(e["detail"]),
                          e["prev_hash"], e["hash"]) for e in entries)))
    last = entries[-1]
    moved = await conn.fetchval(
        """WITH appended AS (
               INSERT INTO audit_log (chain, mac_version, seq, at, actor_kind, actor_id, action, record_type,
                                      record_id, division_code, request_id, detail, prev_hash, hash)
               SELECT $1, $2, e.seq, e.at, e.actor_kind, e.actor_id, e.action, e.record_type, e.record_id,
                      e.division_code, e.request_id, e.detail::jsonb, e.prev_hash, e.hash
               FROM unnest($3::bigint[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
                           $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[], $14::bytea[])
                    AS e(seq, at, actor_kind, actor_id, action, record_type, record_id, division_code,
                         request_id, detail, prev_hash, hash))
           UPDATE audit_head SET seq = $15, hash = $16, seal = $17 WHERE chain = $1 AND seq = $18
           RETURNING chain""",
        last["chain"], last["mac_version"], *columns, last["seq"], last["hash"], seal, entries[0]["seq"] - 1,
    )
    if moved is None:
        raise RuntimeError(f"audit chain {last['chain']} moved under its lock")


async def insert_checkpoint(conn: asyncpg.Connection, signed_at: dt.datetime, kid: str,
                            heads: dict[str, Any], token: str) -> int:
    return await conn.fetchval(
        "INSERT INTO audit_checkpoints (signed_at, kid, heads, token) VALUES ($1, $2, $3, $4) RETURNING id",
        signed_at, kid, heads, token)


async def latest_checkpoint(conn: asyncpg.Connection) -> str | None:
    return await conn.fetchval("SELECT token FROM audit_checkpoints ORDER BY id DESC LIMIT 1")


async def latest_checkpoint_kid(conn: asyncpg.Connection) -> str | None:
    return await conn.fetchval("SELECT kid FROM audit_checkpoints ORDER BY id DESC LIMIT 1")


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
