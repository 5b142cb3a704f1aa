"""The audit chain: append entries inside the caller's transaction (for state changes), in one of
their own (refusals) or in a group commit (reads that changed nothing), verify the whole chain, and sign
checkpoints of it.

Entries are spread over a fixed number of chains (see `repository.lock_chain_tip`). In each, an entry's
hash is an HMAC over the chain number, the previous hash and the entry's canonical JSON, so changing,
inserting, deleting or moving an entry breaks the chain for anyone without the audit key. Every chain
has a head row, sealed with the same key, so entries cut off the end and a chain deleted whole are
seen too. What the database alone cannot show (a rollback to an older copy of log and heads) a signed
checkpoint kept elsewhere shows: see docs/security.md, "Audit chain".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.actors import Actor
from backend.audit import checkpoints, repository
from backend.audit.group_commit import GroupCommit
from backend.db import Database

GENESIS = b"\x00" * 32
# Version 1 (before migration 017): HMAC(prev_hash || entry). Version 2 also covers the chain number.
MAC_VERSION = 2
# Group-commit batches in flight at once per process, each on a connection of the separate pool.
FLUSHERS = 2
log = logging.getLogger("tongban.audit")


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
    def __init__(self, key: bytes, checkpoint_key: Ed25519PrivateKey, db: Database,
                 retired_checkpoint_keys: Iterable[Ed25519PublicKey] = ()) -> None:
        """`checkpoint_key` signs new checkpoints; `retired_checkpoint_keys` (public only) signed earlier
        ones, which still verify and are published beside it."""
        self._key = key
        self._checkpoint_key = checkpoint_key
        retired = list(retired_checkpoint_keys)
        self._checkpoint_keys = checkpoints.public_keys(checkpoint_key.public_key(), retired)
        self._checkpoint_key_set = checkpoints.key_set([checkpoint_key.public_key(), *retired])
        self._db = db
        self._reads = GroupCommit(db.separate_pool, self._append, flushers=FLUSHERS)

    def _mac(self, *parts: bytes) -> bytes:
        return hmac.new(self._key, b"".join(parts), hashlib.sha256).digest()

    def _entry_mac(self, version: int, chain: int, prev_hash: bytes, entry: dict[str, Any]) -> bytes:
        if version == 1:
            return self._mac(prev_hash, _canonical(entry))
        return self._mac(b"entry-v2", chain.to_bytes(2, "big"), prev_hash, _canonical(entry))

    def _seal(self, chain: int, seq: int, hash_: bytes) -> bytes:
        return self._mac(b"head-v2", chain.to_bytes(2, "big"), seq.to_bytes(8, "big"), hash_)

    def _legacy_seal(self, seq: int, hash_: bytes) -> bytes:
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
    ) -> None:
        """Append one entry in the caller's transaction. Inside `Database.transaction` the entry is made now
        and chained just before the commit, so that the chain's lock, which serialises writers, is held for
        that moment only; outside, at once."""
        entry = _entry(actor, action, record_type, record_id, division, detail)
        if not self._db.before_commit(conn, lambda c: self._chain(c, entry)):
            await self._chain(conn, entry)

    async def _chain(self, conn: asyncpg.Connection, entry: dict[str, Any]) -> None:
        await self._append(conn, await repository.lock_chain_tip(conn), [entry])

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
        entry = _entry(actor, action, record_type, record_id, division, detail)
        async with db.separate_transaction() as conn:
            return await self._append(conn, await repository.lock_free_chain_tip(conn), [entry])

    async def record_read(
        self,
        actor: Actor,
        action: str,
        record_type: str,
        record_id: str | None = None,
        *,
        division: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record a read of personal data that changed nothing; return once the entry is durable.

        For use cases with no transaction of their own to write in (a GET): the entry joins the next
        group commit instead of costing a transaction. Call it after the read and before answering;
        if the append fails, it raises and the caller must not answer with the data.
        """
        await self._reads.submit(_entry(actor, action, record_type, record_id, division, detail))

    async def _append(self, conn: asyncpg.Connection, tip: Mapping[str, Any], entries: list[dict[str, Any]]) -> int:
        """Chain `entries` onto `tip` (a chain whose lock this connection holds); return the last seq."""
        chain, seq, prev_hash = tip["chain"], tip["seq"], tip["hash"]
        for entry in entries:
            seq += 1
            entry.update(chain=chain, seq=seq, prev_hash=prev_hash, mac_version=MAC_VERSION)
            entry["hash"] = prev_hash = self._entry_mac(MAC_VERSION, chain, prev_hash, entry)
        await repository.append(conn, entries, self._seal(chain, seq, prev_hash))
        return seq

    # -- checkpoints ------------------------------------------------------------------------------

    async def checkpoint(self, actor: Actor) -> str:
        """Sign every chain's head now, keep the checkpoint and record it in the log; return its token.

        The first checkpoint under a new key records the key it follows (`rotated_from`)."""
        async with self._db.transaction() as conn:
            heads = {c: (h["seq"], h["hash"]) for c, h in (await repository.heads(conn)).items()}
            now = dt.datetime.now(dt.UTC)
            token = checkpoints.sign(checkpoints.document(heads, int(now.timestamp())), self._checkpoint_key)
            kid = checkpoints.kid(self._checkpoint_key.public_key())
            previous_kid = await repository.latest_checkpoint_kid(conn)
            checkpoint_id = await repository.insert_checkpoint(
                conn, now, kid, {str(c): [seq, mac.hex()] for c, (seq, mac) in heads.items()}, token)
            detail: dict[str, Any] = {"kid": kid, "sha256": hashlib.sha256(token.encode()).hexdigest(),
                                      "heads": {str(c): seq for c, (seq, _) in heads.items()}}
            if previous_kid is not None and previous_kid != kid:
                detail["rotated_from"] = previous_kid
                if previous_kid not in self._checkpoint_key_set:
                    log.warning("audit checkpoint key rotated from %s, which is not among the retired keys "
                                "(TONGBAN_AUDIT_CHECKPOINT_RETIRED_KEYS): checkpoints it signed no longer verify "
                                "here", previous_kid)
            await self.record(conn, actor, "audit.checkpoint_signed", "audit_checkpoint", str(checkpoint_id),
                              detail=detail)
        return token

    async def latest_checkpoint(self) -> str | None:
        async with self._db.connection() as conn:
            return await repository.latest_checkpoint(conn)

    def checkpoint_keys(self) -> checkpoints.CheckpointKeySet:
        """The JWK Set of the checkpoint keys: the active one, then the retired ones."""
        return self._checkpoint_keys

    def open_checkpoint(self, token: str,
                        keys: checkpoints.CheckpointKeys | None = None) -> checkpoints.CheckpointDocument:
        """A kept checkpoint, checked against the key its kid names among `keys` (by default this service's
        active and retired checkpoint keys); CheckpointRefused if it is not among them or does not verify."""
        return checkpoints.open_checkpoint(token, self._checkpoint_key_set if keys is None else keys)

    # -- verification -----------------------------------------------------------------------------

    async def verify(self, conn: asyncpg.Connection,
                     checkpoint: checkpoints.CheckpointDocument | None = None) -> ChainReport:
        """Walk every chain from its start; report the first entry or head that does not fit, and, given
        a checkpoint kept elsewhere, a chain rolled back behind it."""
        kept = checkpoints.heads_of(checkpoint) if checkpoint else {}
        count = 0
        tips: dict[int, tuple[int, bytes, int]] = {}  # chain -> (seq, hash, mac_version) of its newest entry
        at_checkpoint: dict[int, bytes] = {}
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            async for row in repository.iterate(conn):
                entry = dict(row)
                chain = entry["chain"]
                expected_seq, prev_hash, prev_version = tips.get(chain, (0, GENESIS, 1))
                expected_seq += 1
                problem = None
                if entry["seq"] != expected_seq:
                    problem = "entry missing (gap in sequence)"
                elif entry["prev_hash"] != prev_hash:
                    problem = "link to previous entry broken"
                elif entry["mac_version"] < prev_version or not hmac.compare_digest(
                        entry["hash"], self._entry_mac(entry["mac_version"], chain, prev_hash, entry)):
                    problem = "entry altered"
                if problem:
                    return ChainReport(False, count, chain, expected_seq, problem)
                tips[chain] = (entry["seq"], entry["hash"], entry["mac_version"])
                if kept.get(chain, (0,))[0] == entry["seq"]:
                    at_checkpoint[chain] = entry["hash"]
                count += 1
            heads = await repository.heads(conn)
        for chain in sorted(set(tips) | set(heads) | set(range(repository.CHAINS))):
            problem = self._check_head(chain, heads.get(chain), tips.get(chain))
            if problem:
                return ChainReport(False, count, chain, tips.get(chain, (0,))[0] + 1, problem)
        for chain, (seq, mac) in sorted(kept.items()):
            head = heads.get(chain)
            if head is None or head["seq"] < seq:
                return ChainReport(False, count, chain, seq, "rolled back behind the checkpoint")
            if seq and not hmac.compare_digest(at_checkpoint.get(chain, b""), mac):
                return ChainReport(False, count, chain, seq, "entry differs from the checkpoint's")
        return ChainReport(True, count)

    def _check_head(self, chain: int, head: asyncpg.Record | None,
                    tip: tuple[int, bytes, int] | None) -> str | None:
        if chain >= repository.CHAINS:
            return "chain outside the configured chains"
        if head is None:
            return "head missing"
        seq, hash_, version = tip or (0, GENESIS, MAC_VERSION)
        if head["seq"] > seq:
            return "entries cut off the end of the chain"
        if (head["seq"], head["hash"]) != (seq, hash_):
            return "head altered"
        if seq == 0:
            return None  # an empty chain's head has nothing to seal
        sealed = hmac.compare_digest(head["seal"], self._seal(chain, seq, hash_)) or (
            version == 1 and hmac.compare_digest(head["seal"], self._legacy_seal(seq, hash_)))
        return None if sealed else "head altered"


def _entry(actor: Actor, action: str, record_type: str, record_id: str | None, division: str | None,
           detail: dict[str, Any] | None) -> dict[str, Any]:
    """An entry's own fields; its place in a chain (chain, seq, links, MAC) is added when appended."""
    return {
        "at": dt.datetime.now(dt.UTC),
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "action": action,
        "record_type": record_type,
        "record_id": record_id,
        "division_code": division,
        "request_id": actor.request_id,
        "detail": _with_context(actor, detail),
    }
