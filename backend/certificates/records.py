"""Stored certificates as the domain's services answer with them: status and views, who did something,
and a holder's own certificate."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates import clock, repository
from backend.certificates.certificate_types import CERTIFICATE_TYPES
from backend.certificates.schemas import CertificateStatus, CertificateSummary, CertificateView, HolderView
from backend.certificates.trust_lists import b64url
from backend.db import Database
from backend.security.reach import reachable


def status_of(row: asyncpg.Record, now: dt.datetime) -> CertificateStatus:
    """What a certificate row is worth at `now`; revocation and a withdrawn key outrank the dates."""
    if row["revoked_at"] is not None:
        return "revoked"
    if row["key_status"] == "withdrawn":
        return "key-withdrawn"
    if now < row["valid_from"]:
        return "not-yet-valid"
    return "expired" if now >= row["expires_at"] else "valid"


def certificate_view(row: asyncpg.Record, now: dt.datetime | None = None) -> CertificateView:
    return CertificateView(
        id=row["id"], number=row["number"], certificate_type=row["certificate_type"],
        type_name=CERTIFICATE_TYPES[row["certificate_type"]].name, authority_id=row["authority_id"],
        authority_name=row["authority_name"], division_code=row["division_code"],
        holder=HolderView(row["holder_kind"], row["holder_name"], row["holder_identifier"]), fields=row["fields"],
        issued_at=row["issued_at"], valid_from=row["valid_from"], expires_at=row["expires_at"],
        status=status_of(row, now or clock.now()), kid=b64url(row["kid"]),
        revoked_at=row["revoked_at"], revocation_reason=row["revocation_reason"])


def summary_view(row: asyncpg.Record, now: dt.datetime) -> CertificateSummary:
    return CertificateSummary(
        id=row["id"], number=row["number"], certificate_type=row["certificate_type"],
        type_name=CERTIFICATE_TYPES[row["certificate_type"]].name, authority_name=row["authority_name"],
        issued_at=row["issued_at"], expires_at=row["expires_at"], status=status_of(row, now))


async def holder_certificate(conn: asyncpg.Connection, audit: AuditLog, db: Database, actor: Actor,
                             certificate_id: uuid.UUID, refused: str = "certificate.read_refused") -> asyncpg.Record:
    """The signed-in citizen's own certificate; someone else's looks exactly like a missing one, and
    either refusal is audited as `refused`."""
    row = await repository.certificate(conn, certificate_id)
    return await reachable(audit, db, actor, row, row is not None and str(row["citizen_id"]) == actor.id,
                           refused=refused, record_type="certificate", record_id=str(certificate_id),
                           missing="no such certificate among yours")
