"""The audit chain: append entries inside the caller's transaction (or, for refusals, in one of their
own), and verify the whole chain.

Entries are spread over a few chains (see `repository.lock_chain_tip`). In each, an entry's hash is an
HMAC over the previous hash and the entry's canonical JSON, so changing, inserting or deleting an
entry breaks the chain for anyone without the audit key; each chain's head row, sealed with the same
key, reveals entries cut off the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit import repository
from backend.db import Database

GENESIS = b"\x00" * 32


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    chain: int | None = None
    first_bad_seq: int | None = None
    problem: str | None = None


def _canonical(entry: dict[str, Any]) -> bytes:
    fields = [
        entry["seq"], entry["at"].isoformat(), entry["actor_kind"], entry["actor_id"],
        entry["action"], entry["record_type"], entry["record_id"], entry["division_code"],
        entry["request_id"], entry["detail"],
    ]
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _with_context(actor: Actor, detail: dict[str, Any] | None) -> dict[str, Any]:
    """The entry's detail plus, for an actor at a kiosk, the device and whoever assisted: the second
    identity of an assisted action is in every entry, whatever use case wrote it."""
    detail = dict(detail or {})
    if actor.device is not None:
        detail.setdefault("kiosk", actor.device)
    if actor.assisted_by is not None:
        detail.setdefault("assisted_by", actor.assisted_by)
    return detail


class AuditLog:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, *parts: bytes) -> bytes:
        return hmac.new(self._key, b"".join(parts), hashlib.sha256).digest()

    def _seal(self, seq: int, hash_: bytes) -> bytes:
        return self._mac(b"head", seq.to_bytes(8, "big"), hash_)

    async def record(
        self,
        conn: asyncpg.Connection,
        actor: Actor,
        action: str,
        record_type: str,
        record_id: str | None = None,
        *,
        division: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry in the caller's transaction; call it last, as it serialises writers."""
        return await self._append(conn, await repository.lock_chain_tip(conn), actor, action, record_type,
                                  record_id, division, detail)

    async def record_refusal(
        self,
        db: Database,
        actor: Actor,
        action: str,
        record_type: str,
        record_id: str | None = None,
        *,
        division: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry in a transaction of its own, committed before the caller raises its refusal.

        The refusal rolls back whatever transaction the caller is in (an idempotent request, a case's
        unit of work); an entry written there would vanish with it.
        """
        async with db.separate_transaction() as conn:
            return await self._append(conn, await repository.lock_free_chain_tip(conn), actor, action, record_type,
                                      record_id, division, detail)

    async def _append(self, conn: asyncpg.Connection, tip: asyncpg.Record, actor: Actor, action: str,
                      record_type: str, record_id: str | None, division: str | None,
                      detail: dict[str, Any] | None) -> int:
        chain = tip["chain"]
        prev_hash = tip["hash"] or GENESIS
        entry: dict[str, Any] = {
            "chain": chain,
            "seq": (tip["seq"] or 0) + 1,
            "at": dt.datetime.now(dt.UTC),
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "record_type": record_type,
            "record_id": record_id,
            "division_code": division,
            "request_id": actor.request_id,
            "detail": _with_context(actor, detail),
            "prev_hash": prev_hash,
        }
        entry["hash"] = self._mac(prev_hash, _canonical(entry))
        await repository.append(conn, entry, self._seal(entry["seq"], entry["hash"]))
        return entry["seq"]

    async def verify(self, conn: asyncpg.Connection) -> ChainReport:
        """Walk every chain from its start; report the first entry that does not fit."""
        count = 0
        tips: dict[int, tuple[int, bytes]] = {}
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            async for row in repository.iterate(conn):
                entry = dict(row)
                chain = entry["chain"]
                expected_seq, prev_hash = tips.get(chain, (0, GENESIS))
                expected_seq += 1
                problem = None
                if entry["seq"] != expected_seq:
                    problem = "entry missing (gap in sequence)"
                elif entry["prev_hash"] != prev_hash:
                    problem = "link to previous entry broken"
                elif not hmac.compare_digest(entry["hash"], self._mac(prev_hash, _canonical(entry))):
                    problem = "entry altered"
                if problem:
                    return ChainReport(False, count, chain, expected_seq, problem)
                tips[chain] = (entry["seq"], entry["hash"])
                count += 1
            heads = await repository.heads(conn)
        for chain in sorted(set(tips) | set(heads)):
            head = heads.get(chain)
            if head is None:
                return ChainReport(False, count, chain, None, "head missing")
            if not hmac.compare_digest(head["seal"], self._seal(head["seq"], head["hash"])):
                return ChainReport(False, count, chain, head["seq"], "head altered")
            if (head["seq"], head["hash"]) != tips.get(chain, (0, GENESIS)):
                return ChainReport(False, count, chain, tips.get(chain, (0,))[0] + 1,
                                   "entries cut off the end of the chain")
        return ChainReport(True, count)
