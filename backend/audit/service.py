"""The audit chain: append entries inside the caller's transaction, and verify the whole chain.

Each entry's hash is an HMAC over the previous hash and the entry's canonical JSON, so changing,
inserting or deleting an entry breaks the chain for anyone without the audit key; the head row,
sealed with the same key, reveals entries cut off the end.
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

GENESIS = b"\x00" * 32


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def _canonical(entry: dict[str, Any]) -> bytes:
    fields = [
        entry["seq"], entry["at"].isoformat(), entry["actor_kind"], entry["actor_id"],
        entry["action"], entry["record_type"], entry["record_id"], entry["division_code"],
        entry["request_id"], entry["detail"],
    ]
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


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
        await repository.lock_chain(conn)
        last = await repository.last_entry(conn)
        prev_hash = last["hash"] if last else GENESIS
        entry: dict[str, Any] = {
            "seq": (last["seq"] if last else 0) + 1,
            "at": dt.datetime.now(dt.UTC),
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "record_type": record_type,
            "record_id": record_id,
            "division_code": division,
            "request_id": actor.request_id,
            "detail": detail or {},
            "prev_hash": prev_hash,
        }
        entry["hash"] = self._mac(prev_hash, _canonical(entry))
        await repository.append(conn, entry, self._seal(entry["seq"], entry["hash"]))
        return entry["seq"]

    async def verify(self, conn: asyncpg.Connection) -> ChainReport:
        """Walk the chain from the start; report the first entry that does not fit."""
        prev_hash, expected_seq, count = GENESIS, 1, 0
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            async for row in repository.iterate(conn):
                entry = dict(row)
                if entry["seq"] != expected_seq:
                    return ChainReport(False, count, expected_seq, "entry missing (gap in sequence)")
                if entry["prev_hash"] != prev_hash:
                    return ChainReport(False, count, entry["seq"], "link to previous entry broken")
                if not hmac.compare_digest(entry["hash"], self._mac(prev_hash, _canonical(entry))):
                    return ChainReport(False, count, entry["seq"], "entry altered")
                prev_hash, expected_seq, count = entry["hash"], expected_seq + 1, count + 1
            last = await repository.head(conn)
        if last is None:
            return ChainReport(count == 0, count, 1 if count else None,
                               None if count == 0 else "head missing")
        if not hmac.compare_digest(last["seal"], self._seal(last["seq"], last["hash"])):
            return ChainReport(False, count, last["seq"], "head altered")
        if last["seq"] != count or last["hash"] != prev_hash:
            return ChainReport(False, count, count + 1, "entries cut off the end of the chain")
        return ChainReport(True, count)
