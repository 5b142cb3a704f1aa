"""Third-party checks (证明证照查验): the holder consents to chosen fields of one certificate for one
relying party, a few times, for a while; the relying party presents the token and sees only those
fields; the holder sees every check."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates import clock, repository
from backend.certificates.certificate_types import CERTIFICATE_TYPES
from backend.certificates.records import holder_certificate, status_of
from backend.certificates.schemas import (
    CheckAnswer,
    CheckRecord,
    CheckRequest,
    ConsentCreate,
    ConsentIssued,
    ConsentView,
)
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import (
    CertificateKeyWithdrawn,
    CertificateRevoked,
    Conflict,
    ConsentExpired,
    ConsentUsedUp,
    ConsentWithdrawn,
    FieldError,
    NotFound,
    ValidationFailed,
)
from backend.security.tokens import new_opaque_token, opaque_token_hash

# A certificate in one of these states is not shared: no new consent, and nothing disclosed on a check.
_UNSHAREABLE = frozenset({"revoked", "key-withdrawn"})


def _consent_view(row: asyncpg.Record, now: dt.datetime) -> ConsentView:
    if row["withdrawn_at"] is not None:
        status = "withdrawn"
    elif row["expires_at"] <= now:
        status = "expired"
    elif row["uses"] >= row["max_uses"]:
        status = "used-up"
    else:
        status = "active"
    return ConsentView(
        id=row["id"], certificate_id=row["certificate_id"], relying_party=row["relying_party"],
        scopes=list(row["scopes"]), purpose=row["purpose"], created_at=row["created_at"],
        expires_at=row["expires_at"], max_uses=row["max_uses"], uses=row["uses"], status=status,  # type: ignore[arg-type]
        withdrawn_at=row["withdrawn_at"])


class ConsentService:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog) -> None:
        self.db, self.ephemeral, self.audit = db, ephemeral, audit

    async def create_consent(self, actor: Actor, certificate_id: uuid.UUID, form: ConsentCreate) -> ConsentIssued:
        """A token for one relying party to see the chosen fields, a bounded number of times."""
        relying_party = form.relying_party.strip()
        if not relying_party:
            raise ValidationFailed.field("relying_party", "must not be blank")
        async with self.db.transaction() as conn:
            row = await holder_certificate(conn, self.audit, self.db, actor, certificate_id,
                                           "certificate_consent.create_refused")
            kind = CERTIFICATE_TYPES[row["certificate_type"]]
            allowed = set(kind.scopes)
            unknown = [FieldError(f"#/scopes/{i}", f"{s!r} is not one of: {', '.join(kind.scopes)}")
                       for i, s in enumerate(form.scopes) if s not in allowed]
            if unknown:
                raise ValidationFailed(unknown)
            if (status := status_of(row, clock.now())) in _UNSHAREABLE:
                raise Conflict(f"a certificate whose status is {status} cannot be shared")
            token, token_hash = new_opaque_token("tbc_")
            consent = await repository.insert_consent(
                conn, token_hash=token_hash, certificate_id=certificate_id, citizen_id=uuid.UUID(actor.id),
                relying_party=relying_party, scopes=list(dict.fromkeys(form.scopes)),
                purpose=form.purpose, expires_at=clock.now() + dt.timedelta(minutes=form.valid_minutes),
                max_uses=form.max_uses)
            await self.audit.record(conn, actor, "certificate_consent.created", "certificate", str(certificate_id),
                                    division=row["division_code"],
                                    detail={"consent_id": str(consent["id"]), "relying_party": consent["relying_party"],
                                            "scopes": list(consent["scopes"]), "max_uses": form.max_uses})
        return ConsentIssued(consent=_consent_view(consent, clock.now()), token=token)

    async def my_consents(self, actor: Actor, certificate_id: uuid.UUID) -> list[ConsentView]:
        now = clock.now()
        async with self.db.connection() as conn:
            await holder_certificate(conn, self.audit, self.db, actor, certificate_id,
                                     "certificate_consents.read_refused")
            return [_consent_view(row, now) for row in await repository.consents_of(conn, certificate_id)]

    async def withdraw_consent(self, actor: Actor, consent_id: uuid.UUID) -> ConsentView:
        async with self.db.transaction() as conn:
            row = await repository.withdraw_consent(conn, consent_id, uuid.UUID(actor.id))
            if row is None:
                raise NotFound("no such consent among yours")
            await self.audit.record(conn, actor, "certificate_consent.withdrawn", "certificate",
                                    str(row["certificate_id"]), detail={"consent_id": str(consent_id)})
        return _consent_view(row, clock.now())

    async def check(self, request: CheckRequest, client: str, actor: Actor) -> CheckAnswer:
        """A relying party presents a consent token and gets only the consented fields.

        Every presentation of a known token, answered or refused, lands in the holder's check log.
        """
        await self.ephemeral.limit("certificate-check", client, limit=60, window_seconds=60,
                                   what="certificate checks from this client")
        presented_by = request.presented_by.strip()
        if not presented_by:
            raise ValidationFailed.field("presented_by", "must not be blank")
        token_hash = opaque_token_hash(request.token)
        now = clock.now()
        async with self.db.transaction() as conn:
            consent = await repository.use_consent(conn, token_hash)
            if consent is None:
                refused = await repository.consent_by_token(conn, token_hash)
                if refused is None:
                    raise NotFound("no consent matches this token")
                outcome, refusal = self._consent_refusal(refused)
            else:
                row = await repository.certificate(conn, consent["certificate_id"])
                status = status_of(row, now)
                if status not in _UNSHAREABLE:
                    disclosed = self._disclose(row, list(consent["scopes"]))
                    await self._log_check(conn, consent, presented_by, client, actor, "answered", list(disclosed))
                    return CheckAnswer(
                        certificate_type=row["certificate_type"],
                        type_name=CERTIFICATE_TYPES[row["certificate_type"]].name, authority_id=row["authority_id"],
                        authority_name=row["authority_name"], status=status,  # type: ignore[arg-type]
                        issued_at=row["issued_at"], expires_at=row["expires_at"], disclosed=disclosed,
                        uses_left=consent["max_uses"] - consent["uses"], checked_at=now)
                refused, outcome, refusal = consent, status, self._certificate_refusal(status)
            # The refused attempt is logged for the holder on a transaction of its own; the refusal then
            # rolls this one back, so a use counted above is given back.
            async with self.db.separate_transaction() as own:
                await self._log_check(own, refused, presented_by, client, actor, outcome, [])
            raise refusal

    @staticmethod
    def _consent_refusal(consent: asyncpg.Record) -> tuple[str, Exception]:
        if consent["withdrawn_at"] is not None:
            return "withdrawn", ConsentWithdrawn("the holder withdrew this consent")
        if consent["uses"] >= consent["max_uses"]:
            return "used-up", ConsentUsedUp(f"this consent allowed {consent['max_uses']} check(s), all used")
        return "expired", ConsentExpired(f"this consent expired at {consent['expires_at'].isoformat()}")

    @staticmethod
    def _certificate_refusal(status: str) -> Exception:
        if status == "revoked":
            return CertificateRevoked("the issuing authority revoked this certificate")
        return CertificateKeyWithdrawn("the key that signed this certificate was withdrawn; ask the holder for a "
                                       "re-issued one")

    @staticmethod
    def _disclose(row: asyncpg.Record, scopes: list[str]) -> dict[str, Any]:
        holder = {"holder_name": row["holder_name"], "holder_identifier": row["holder_identifier"],
                  "number": row["number"]}
        fields = row["fields"]
        return {s: holder[s] if s in holder else fields[s] for s in scopes if s in holder or s in fields}

    async def _log_check(self, conn: asyncpg.Connection, consent: asyncpg.Record, presented_by: str,
                         client: str, actor: Actor, outcome: str, disclosed: list[str]) -> None:
        await repository.insert_check(
            conn, consent_id=consent["id"], certificate_id=consent["certificate_id"],
            citizen_id=consent["citizen_id"], presented_by=presented_by, client=client,
            outcome=outcome, disclosed=disclosed)
        action = "certificate.checked" if outcome == "answered" else "certificate.check_refused"
        await self.audit.record(conn, actor, action, "certificate", str(consent["certificate_id"]),
                                detail={"consent_id": str(consent["id"]), "relying_party": consent["relying_party"],
                                        "presented_by": presented_by, "outcome": outcome,
                                        "disclosed": disclosed})

    async def my_checks(self, actor: Actor, certificate_id: uuid.UUID | None = None) -> list[CheckRecord]:
        """Every check made on the holder's certificates: who, when, which fields, and the outcome."""
        async with self.db.connection() as conn:
            if certificate_id is not None:
                await holder_certificate(conn, self.audit, self.db, actor, certificate_id,
                                         "certificate_checks.read_refused")
            rows = await repository.checks_of_citizen(conn, uuid.UUID(actor.id), certificate_id)
        await self.audit.record_read(actor, "certificate_checks.read", "citizen", actor.id)
        return [CheckRecord(**{**dict(row), "disclosed": list(row["disclosed"])}) for row in rows]
