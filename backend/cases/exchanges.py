"""Signed hand-over of cases between divisions (the exchange records that replace 双向快递 paper trails).

When a case crosses from one division to another, `record_handover` writes an entry signed with the
sending province's case-exchange key; the receiver's accept or refuse transition calls `countersign`,
signed with the receiving province's key. An approved result sent back to the receiving place is signed
the same way (`record_result`), and countersigned when that place delivers it. In 多地联办, the
handling place signs the sharing of the accepted case with each coordinating division when their task
opens (`record_handover(kind="share")`), and that division signs its task done (`record_task_done`).
All run inside the caller's transaction (the case's unit of work, with the case row locked) and audit
themselves there.
A province's exchange key is a `certificate_keys` row of purpose `case-exchange` (`tongban certificates
create-key --exchange-province 330000`), published in the same signed trust list as certificate keys;
`verify` checks a chain with only what is published (see `exchange_records.verify_chain`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.cases import exchange_repository as repository
from backend.cases import repository as case_repository
from backend.cases.exchange_records import (
    ChainRuleBroken,
    ChainVerdict,
    Entry,
    ExchangeBundle,
    SignedEntry,
    Standing,
    bundle_of,
    canonical,
    countersign_body,
    digest,
    handover_body,
    material_digest,
    parse,
    result_body,
    result_digest,
    sign,
    task_done_body,
    verify_chain,
)
from backend.certificates import repository as key_repository
from backend.certificates.keys import KeyVault
from backend.certificates.published import PublishedLists
from backend.certificates.trust_lists import TrustList, anchors_from_jwks, read_trust_list
from backend.db import Database
from backend.errors import Conflict, NoSigningKey, NotFound, ValidationFailed
from backend.identity import divisions


@dataclass(frozen=True, slots=True)
class ExchangeEntry:
    """One stored entry of a case's chain: `body` exactly as signed, `digest` = SHA-256(body)."""

    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    seq: int
    kind: Literal["handover", "result", "acceptance", "share", "task-done"]
    body: bytes
    digest: bytes
    signature: bytes
    created_at: dt.datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> ExchangeEntry:
        return cls(row["id"], row["case_id"], row["case_number"], row["seq"], row["kind"], row["body"],
                   row["digest"], row["signature"], row["created_at"])

    @property
    def record(self) -> Entry:
        return parse(self.body)


class CaseExchanges:
    def __init__(self, db: Database, audit: AuditLog, vault: KeyVault, lists: PublishedLists) -> None:
        self.db, self.audit, self.vault, self.lists = db, audit, vault, lists

    async def record_handover(self, conn: asyncpg.Connection, actor: Actor, *, case_id: uuid.UUID,
                              case_number: str, from_division: str, to_division: str, role: str,
                              form_digest: bytes, material_digests: Sequence[bytes],
                              kind: Literal["handover", "share"] = "handover") -> ExchangeEntry:
        """Sign and store the hand-over of a case from `from_division` to `to_division` — or, with
        `kind="share"`, its sharing for a 多地联办 coordination task (the case stays with `from_division`).

        `from_division` must hold the case (the receiver of its last accepted hand-over; anyone for the
        first), and the last hand-over must have been countersigned; else `Conflict` (the chain rules,
        `exchange_records.Standing`).
        """
        if len(form_digest) != 32 or any(len(m) != 32 for m in material_digests):
            raise ValidationFailed.field("material_digests", "digests are 32-byte SHA-256 values")
        last, standing = await self._sender(conn, case_id, from_division, to_division)
        key, kid = await self._key(conn, divisions.province_of(from_division))
        body = handover_body(case_number=case_number, seq=last.seq + 1 if last else 1,
                             prev=last.digest if last else None, at=dt.datetime.now(dt.UTC),
                             from_division=from_division, to_division=to_division, role=role, form=form_digest,
                             materials=material_digests, kid=kid, kind=kind)
        entry = await self._append(conn, case_id, case_number, body, key, standing)
        await self.audit.record(conn, actor, "case_exchange.shared" if kind == "share" else "case_exchange.handed_over",
                                "case", str(case_id), division=from_division,
                                detail={"seq": entry.seq, "to": to_division, "digest": entry.digest.hex()})
        return entry

    async def record_result(self, conn: asyncpg.Connection, actor: Actor, *, case_id: uuid.UUID, case_number: str,
                            from_division: str, to_division: str, role: str, result: bytes) -> ExchangeEntry:
        """Sign and store the approved result's way back from the handling place `from_division`, which
        holds the case since it countersigned the hand-over, to the receiving place `to_division`.
        `result` is `exchange_records.result_digest` of the decision; else as `record_handover`."""
        if len(result) != 32:
            raise ValidationFailed.field("result", "a digest is a 32-byte SHA-256 value")
        last, standing = await self._sender(conn, case_id, from_division, to_division)
        if last is None:
            raise Conflict(f"case {case_number} was never handed over; its result has no way back")
        key, kid = await self._key(conn, divisions.province_of(from_division))
        body = result_body(case_number=case_number, seq=last.seq + 1, prev=last.digest,
                           at=dt.datetime.now(dt.UTC), from_division=from_division, to_division=to_division,
                           role=role, decision="approved", result=result, kid=kid)
        entry = await self._append(conn, case_id, case_number, body, key, standing)
        await self.audit.record(conn, actor, "case_exchange.result_sent", "case", str(case_id), division=from_division,
                                detail={"seq": entry.seq, "to": to_division, "digest": entry.digest.hex()})
        return entry

    async def _sender(self, conn: asyncpg.Connection, case_id: uuid.UUID, from_division: str,
                      to_division: str) -> tuple[ExchangeEntry | None, Standing]:
        """The chain's last entry and its standing, for something sent from `from_division` to `to_division`."""
        for name, code in (("from_division", from_division), ("to_division", to_division)):
            _division(name, code)
        if from_division == to_division:
            raise ValidationFailed.field("to_division", "a case is handed over to another division")
        return await self._standing(conn, case_id)

    async def countersign(self, conn: asyncpg.Connection, actor: Actor, *, case_id: uuid.UUID,
                          receiving_division: str, role: str,
                          outcome: Literal["accepted", "refused"] = "accepted") -> ExchangeEntry:
        """Countersign the case's pending hand-over as its receiver: accepted, or refused (the case
        then stays with the sender). `Conflict` when no hand-over awaits `receiving_division`."""
        _division("receiving_division", receiving_division)
        last, standing = await self._standing(conn, case_id)
        if last is None or standing.awaiting is None:
            raise Conflict("no hand-over of this case awaits a countersign")
        key, kid = await self._key(conn, divisions.province_of(receiving_division))
        body = countersign_body(case_number=last.case_number, seq=last.seq + 1, prev=last.digest,
                                at=dt.datetime.now(dt.UTC), division=receiving_division, role=role, outcome=outcome,
                                kid=kid)
        entry = await self._append(conn, case_id, last.case_number, body, key, standing)
        await self.audit.record(conn, actor, "case_exchange.countersigned", "case", str(case_id),
                                division=receiving_division,
                                detail={"seq": entry.seq, "outcome": outcome, "digest": entry.digest.hex()})
        return entry

    async def record_task_done(self, conn: asyncpg.Connection, actor: Actor, *, case_id: uuid.UUID, division: str,
                               role: str) -> ExchangeEntry:
        """多地联办: the coordinating `division` signs its task done, answering the share of the case with it.
        `Conflict` when no share awaits that division's task."""
        _division("division", division)
        last, standing = await self._standing(conn, case_id)
        share = next((s for s in standing.open_shares() if s.to == division), None)
        if last is None or share is None:
            raise Conflict(f"no share of this case awaits the task of {division}")
        key, kid = await self._key(conn, divisions.province_of(division))
        body = task_done_body(case_number=last.case_number, seq=last.seq + 1, prev=last.digest,
                              at=dt.datetime.now(dt.UTC), division=division, role=role, share=share.seq, kid=kid)
        entry = await self._append(conn, case_id, last.case_number, body, key, standing)
        await self.audit.record(conn, actor, "case_exchange.task_done", "case", str(case_id), division=division,
                                detail={"seq": entry.seq, "share": share.seq, "digest": entry.digest.hex()})
        return entry

    async def _standing(self, conn: asyncpg.Connection, case_id: uuid.UUID) -> tuple[ExchangeEntry | None, Standing]:
        """The case's last entry (None for an empty chain) and where its chain stands. A stored chain that
        breaks the rules is not signed on: `Conflict`, naming the entry."""
        entries = [ExchangeEntry.of(r) for r in await repository.chain(conn, case_id)]
        if not entries:
            return None, Standing()
        try:
            standing = Standing.of(entries[0].case_number, [(e.record, e.digest) for e in entries])
        except ChainRuleBroken as broken:
            raise Conflict(f"the stored exchange chain of case {entries[0].case_number} is broken ({broken.reason}: "
                           f"{broken.detail}); check it with `tongban cases verify-exchanges`") from None
        return entries[-1], standing

    async def on_transition(self, conn: asyncpg.Connection, case: asyncpg.Record, event_id: int, action: str,
                            actor: Actor, materials: Sequence[asyncpg.Record]) -> None:
        """The cases workflow's hand-over hook (`backend.cases.workflow.HandOverHook`), called inside a
        transition of a proxy or joint case that changes hands: `hand_over` signs the hand-over from the
        receiving to the handling division with the case's form and material digests; `accept` and
        `refuse` countersign it. `send_result` signs the approved result's way back to the receiving
        place, and that place's `deliver` of it countersigns."""
        role = actor.role or actor.kind
        if action == "send_result":
            certificate = (await key_repository.certificate(conn, case["certificate_id"])
                           if case["certificate_id"] else None)
            result = result_digest(case_number=case["number"], decision=case["decision"],
                                   reasons=case["decision_reasons"] or [], decided_at=case["decided_at"],
                                   certificate=material_digest(certificate["qr_text"].encode()) if certificate else None)
            await self.record_result(
                conn, actor, case_id=case["id"], case_number=case["number"], from_division=case["handling_division"],
                to_division=case["receiving_division"], role=role, result=result)
        elif action == "deliver":
            await self.countersign(conn, actor, case_id=case["id"], receiving_division=case["receiving_division"],
                                   role=role)
        if action == "hand_over":
            await self.record_handover(
                conn, actor, case_id=case["id"], case_number=case["number"],
                from_division=case["receiving_division"], to_division=case["handling_division"], role=role,
                form_digest=bytes(case["form_digest"]),
                material_digests=_digests(materials))
        elif action in ("accept", "refuse"):
            await self.countersign(conn, actor, case_id=case["id"], receiving_division=case["handling_division"],
                                   role=role, outcome="accepted" if action == "accept" else "refused")

    async def on_tasks_opened(self, conn: asyncpg.Connection, case: asyncpg.Record, task_divisions: Sequence[str],
                              actor: Actor, materials: Sequence[asyncpg.Record]) -> None:
        """Called by the cases service when a 多地联办 acceptance opens coordination tasks, in its transaction:
        the handling place shares the case's form and every material's digest with each task's division.
        Each division's province must hold a case-exchange key to sign its task done later: `NoSigningKey`
        now, rather than then."""
        for division in task_divisions:
            await self._key(conn, divisions.province_of(division))
        for division in task_divisions:
            await self.record_handover(
                conn, actor, case_id=case["id"], case_number=case["number"], from_division=case["handling_division"],
                to_division=division, role=actor.role or actor.kind, form_digest=bytes(case["form_digest"]),
                material_digests=_digests(materials), kind="share")

    async def on_task_done(self, conn: asyncpg.Connection, case: asyncpg.Record, division: str, actor: Actor) -> None:
        """Called by the cases service when a coordinating division reports its task done, in its transaction:
        the division signs the answer to its share. A case whose tasks opened before shares were signed
        (migration 030) has none to answer."""
        if not (await self._standing(conn, case["id"]))[1].shares:
            return
        await self.record_task_done(conn, actor, case_id=case["id"], division=division, role=actor.role or actor.kind)

    async def _key(self, conn: asyncpg.Connection, province: str) -> tuple[asyncpg.Record, bytes]:
        key = await key_repository.active_key(conn, "case-exchange", None, province)
        if key is None:
            raise NoSigningKey(f"no case-exchange key is in service for province {province}: run "
                               f"`tongban certificates create-key --exchange-province {province}`")
        return key, bytes(key["kid"])

    async def _append(self, conn: asyncpg.Connection, case_id: uuid.UUID, case_number: str, body: dict,
                      key: asyncpg.Record, standing: Standing) -> ExchangeEntry:
        """Check `body` against the chain rules as they stand, sign it and store it."""
        try:
            record = parse(canonical(body))  # a value outside the record's alphabet (a case number, a role)
        except ValueError as exc:
            raise ValidationFailed.field("case", f"cannot be written into an exchange record: {exc}") from None
        try:
            standing.check(record)
        except ChainRuleBroken as broken:
            raise Conflict(f"case {case_number}: {broken.detail}") from None
        signed = sign(body, self.vault.unwrap(key["public_key"], key["private_key_wrapped"]))
        row = await repository.insert(conn, case_id=case_id, case_number=case_number, seq=body["seq"],
                                      kind=body["kind"], body=signed.body, digest=digest(signed.body),
                                      signature=signed.signature, signing_key_id=key["id"])
        if row is None:
            raise Conflict(f"case {case_number} changed hands concurrently; try again")
        return ExchangeEntry.of(row)

    # -- reading and checking -----------------------------------------------------------------------

    async def chain(self, case_number: str) -> list[ExchangeEntry]:
        """The case's stored chain; a number no case has is not an empty chain (which would verify)."""
        async with self.db.connection() as conn:
            if await case_repository.case_id_by_number(conn, case_number) is None:
                raise NotFound(f"no case is numbered {case_number}")
            return [ExchangeEntry.of(r) for r in await repository.chain_by_number(conn, case_number)]

    async def published_trust(self) -> tuple[str, TrustList]:
        """The signed trust list as published, read back the way any verifier reads it: checked
        against the published anchors."""
        token = await self.lists.signed_trust_list()
        anchors = anchors_from_jwks(msgspec.json.encode(await self.lists.trust_anchors()))
        return token, read_trust_list(token, anchors)

    async def verify(self, case_number: str) -> ChainVerdict:
        """The case's stored chain checked with only what is published (no private key, no registry)."""
        entries = await self.chain(case_number)
        _token, trust = await self.published_trust()
        return verify_chain(case_number, [SignedEntry(e.body, e.signature) for e in entries], trust)

    async def export(self, case_number: str) -> ExchangeBundle:
        """The export file: the case's chain and the signed trust list (`tongban cases export-exchanges`)."""
        entries = await self.chain(case_number)
        token, _trust = await self.published_trust()
        return bundle_of(case_number, [SignedEntry(e.body, e.signature) for e in entries], token)


def _digests(materials: Sequence[asyncpg.Record]) -> list[bytes]:
    """The digests of a case's materials (an e-certificate given as one: SHA-256 of its QR text)."""
    return [bytes(m["digest"]) for m in materials if m["digest"] is not None]


def _division(name: str, code: str) -> None:
    try:
        divisions.check_division(code)
    except divisions.InvalidDivision as exc:
        raise ValidationFailed.field(name, str(exc)) from None
