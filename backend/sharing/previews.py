"""The citizen's side of the gateway: evidence previews accepted or refused (silence expires them),
the readable log of who asked what about them, when, why and what was shared, and standing consents
for agencies.

A preview's state machine is data (`PREVIEW_TRANSITIONS`), applied by `decide` alone; a refused or
expired preview's evidence is erased in the same statement that moves it, so nothing is shared."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import FieldError, InvalidTransition, NotFound, PreviewExpired, ValidationFailed
from backend.identity import divisions
from backend.security.pii import PiiCipher
from backend.sharing import repository
from backend.sharing.declarations import DECLARATIONS, PURPOSES
from backend.sharing.records import request_view, unseal_evidence
from backend.sharing.schemas import ConsentCreate, ConsentView, Preview, RequestView

# (state, action) → state: the citizen accepts or refuses an awaiting preview; silence expires it.
PREVIEW_TRANSITIONS = {
    ("awaiting-citizen", "accept"): "shared",
    ("awaiting-citizen", "refuse"): "refused",
    ("awaiting-citizen", "expire"): "expired",
}
_DONE = {"accept": "accepted", "refuse": "refused", "expire": "expired"}


def _consent_view(row: asyncpg.Record, now: dt.datetime) -> ConsentView:
    status = "withdrawn" if row["withdrawn_at"] else "expired" if row["expires_at"] <= now else "active"
    return ConsentView(id=row["id"], requester_division=row["requester_division"], purposes=list(row["purposes"]),
                       providers=list(row["providers"]), created_at=row["created_at"], expires_at=row["expires_at"],
                       status=status, withdrawn_at=row["withdrawn_at"])  # type: ignore[arg-type]


class Previews:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher, *, shared_evidence_days: int) -> None:
        self.db, self.audit, self.cipher = db, audit, cipher
        self.shared_evidence_days = shared_evidence_days

    async def _mine(self, conn: asyncpg.Connection, actor: Actor, request_id: uuid.UUID,
                    for_update: bool = False) -> asyncpg.Record:
        row = await repository.request(conn, request_id, for_update=for_update)
        if row is None or str(row["citizen_id"]) != actor.id:
            raise NotFound("no such data request about you")
        return row

    async def preview(self, actor: Actor, request_id: uuid.UUID) -> Preview:
        """What the agency would receive, from whom, why; the evidence itself while the citizen decides
        (or, after accepting, while it is kept). Audited."""
        async with self.db.transaction() as conn:
            row = await self._mine(conn, actor, request_id)
            now = await conn.fetchval("SELECT now()")
            if row["state"] == "awaiting-citizen" and row["preview_expires_at"] <= now:
                row = await self._expire_one(conn, row["id"]) or row
            evidence = unseal_evidence(self.cipher, row["evidence_enc"]) if row["evidence_enc"] is not None else None
            await self.audit.record(conn, actor, "data_request.previewed", "citizen", actor.id,
                                    detail={"request_id": str(request_id), "state": row["state"]})
        return Preview(request=request_view(row), evidence=evidence)

    async def decide(self, actor: Actor, request_id: uuid.UUID, action: str) -> RequestView:
        """Accept (the agency may read the evidence) or refuse (the evidence is erased, nothing shared)."""
        async with self.db.transaction() as conn:
            row = await self._mine(conn, actor, request_id, for_update=True)
            now = await conn.fetchval("SELECT now()")
            if row["state"] == "awaiting-citizen" and row["preview_expires_at"] <= now:
                await self._expire_one(conn, row["id"])
                expired = True
            else:
                expired = False
                to_state = PREVIEW_TRANSITIONS.get((row["state"], action))
                if to_state is None:
                    raise InvalidTransition(f"a request that is {row['state']} cannot be {_DONE[action]}",
                                            state=row["state"])
                keep = now + dt.timedelta(days=self.shared_evidence_days) if to_state == "shared" else None
                evidence = unseal_evidence(self.cipher, row["evidence_enc"]) if to_state == "shared" else None
                disclosed = list(evidence.data) if evidence is not None and evidence.found else []
                row = await repository.decide(conn, request_id, to_state, keep_evidence_until=keep, disclosed=disclosed)
                await self.audit.record(conn, actor, f"data_request.{to_state}", "citizen", actor.id,
                                        detail={"request_id": str(request_id), "disclosed": disclosed,
                                                "requester_division": row["requester_division"]})
        if expired:
            # The expiry is committed; the decision came too late.
            raise PreviewExpired("the preview expired before you answered; nothing was shared")
        return request_view(row)

    async def _expire_one(self, conn: asyncpg.Connection, request_id: uuid.UUID) -> asyncpg.Record | None:
        row = await repository.decide(conn, request_id, PREVIEW_TRANSITIONS[("awaiting-citizen", "expire")],
                                      keep_evidence_until=None)
        if row is not None:
            await self.audit.record(conn, Actor.system(), "data_request.expired", "citizen", str(row["citizen_id"]),
                                    detail={"request_id": str(request_id)})
        return row

    async def expire_due(self) -> str:
        """The scheduled job: previews left unanswered expire (evidence erased), shared evidence past its
        keeping is erased."""
        async with self.db.transaction() as conn:
            expired = await repository.expire_previews(conn)
            erased = await repository.erase_old_evidence(conn)
            for row in expired:
                await self.audit.record(conn, Actor.system(), "data_request.expired", "citizen",
                                        str(row["citizen_id"]), detail={"request_id": str(row["id"])})
        return f"{len(expired)} preview(s) expired, {erased} shared evidence erased"

    async def log(self, actor: Actor, limit: int = 20, offset: int = 0) -> list[RequestView]:
        """Who asked what about the citizen, when, why and what was shared, newest first. Audited."""
        async with self.db.connection() as conn:
            rows = await repository.requests_of(conn, uuid.UUID(actor.id), limit, offset)
        await self.audit.record_read(actor, "data_requests.read", "citizen", actor.id,
                                     detail={"count": len(rows), "offset": offset})
        return [request_view(r) for r in rows]

    # -- consents -------------------------------------------------------------------------------------------

    async def give_consent(self, actor: Actor, form: ConsentCreate) -> ConsentView:
        problems = [FieldError(f"#/purposes/{n}", f"not a purpose; one of: {', '.join(PURPOSES)}")
                    for n, p in enumerate(form.purposes) if p not in PURPOSES or p == "self-query"]
        problems += [FieldError(f"#/providers/{n}", "not a provider of the gateway")
                     for n, p in enumerate(form.providers) if p not in DECLARATIONS]
        try:
            divisions.check_division(form.requester_division)
        except divisions.InvalidDivision as exc:
            problems.append(FieldError("#/requester_division", str(exc)))
        if problems:
            raise ValidationFailed(problems)
        async with self.db.transaction() as conn:
            now = await conn.fetchval("SELECT now()")
            row = await repository.insert_consent(
                conn, uuid.UUID(actor.id), form.requester_division, list(dict.fromkeys(form.purposes)),
                list(dict.fromkeys(form.providers)), now + dt.timedelta(days=form.valid_days))
            await self.audit.record(conn, actor, "data_consent.given", "citizen", actor.id,
                                    detail={"consent_id": str(row["id"]), "requester_division": form.requester_division,
                                            "purposes": list(row["purposes"]), "providers": list(row["providers"])})
        return _consent_view(row, now)

    async def consents(self, actor: Actor) -> list[ConsentView]:
        async with self.db.connection() as conn:
            now = await conn.fetchval("SELECT now()")
            return [_consent_view(r, now) for r in await repository.consents_of(conn, uuid.UUID(actor.id))]

    async def withdraw_consent(self, actor: Actor, consent_id: uuid.UUID) -> ConsentView:
        async with self.db.transaction() as conn:
            row = await repository.withdraw_consent(conn, consent_id, uuid.UUID(actor.id))
            if row is None:
                raise NotFound("no such consent among yours")
            await self.audit.record(conn, actor, "data_consent.withdrawn", "citizen", actor.id,
                                    detail={"consent_id": str(consent_id)})
            return _consent_view(row, await conn.fetchval("SELECT now()"))
