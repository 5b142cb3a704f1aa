"""Registered data providers and silent recognition (静默认证).

A provider (a medical-insurance centre, a bank, a service hall) is registered with the kinds of
signs of life it may report and a credential shown once. It reports a sign — who (by resident ID,
resolved through the keyed hash and never stored in clear), what kind, when, where, and its own
reference (a report sent twice is kept once). Each paying agency chooses which kinds count and how
recent they must be; the daily silent run records a recognition, with the signal as its evidence,
for every roster entry whose recognition is open or overdue and that has such a sign.
(The sharing stream extends this registry with declared fields, purposes and adapters.)
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time
import uuid
from collections.abc import Callable

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.china_time import today as china_today
from backend.db import Database
from backend.ephemeral import Ephemeral, Limit
from backend.eligibility import repository
from backend.eligibility.recognition import Recognitions
from backend.eligibility.roster import known_division
from backend.eligibility.schemas import (
    ProviderCreate,
    ProviderCredential,
    ProviderView,
    SignalReceipt,
    SignalReport,
    SilentRun,
)
from backend.errors import Conflict, Unauthenticated, ValidationFailed
from backend.identity import divisions
from backend.identity.resident_id import InvalidResidentId, normalise_resident_id
from backend.security.pii import PiiCipher

CREDENTIAL_PURPOSE = "data-provider.credential"
# No agency counts a sign older than a year; older reports are refused at the door.
MAX_SIGNAL_AGE_DAYS = 366
SILENT_CHUNK = 500
AUTH_FAILURES_PER_HOUR = 20


def provider_view(row) -> ProviderView:
    return ProviderView(id=row["id"], name=row["name"], division=row["division"], signal_kinds=list(row["signal_kinds"]),
                        active=row["active"], created_at=row["created_at"])


class Providers:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher,
                 recognitions: Recognitions) -> None:
        self.db, self.ephemeral, self.audit, self.cipher, self.recognitions = db, ephemeral, audit, cipher, recognitions

    async def register(self, actor: Actor, form: ProviderCreate) -> ProviderCredential:
        """Register a provider; the answer holds its credential, shown this once (only a keyed hash is kept)."""
        known_division(form.division, "division")
        if actor.kind == "staff" and not divisions.within(actor.division or "", form.division):
            raise ValidationFailed.field("division", "outside the division you administer")
        secret = secrets.token_urlsafe(32)
        async with self.db.transaction() as conn:
            row = await repository.insert_provider(conn, form.id, form.name.strip(), form.division,
                                                   sorted(set(form.signal_kinds)),
                                                   self.cipher.lookup_hash(secret, purpose=CREDENTIAL_PURPOSE))
            if row is None:
                raise Conflict(f"a data provider {form.id} exists")
            await self.audit.record(conn, actor, "data_provider.registered", "data_provider", form.id,
                                    division=form.division, detail={"signal_kinds": list(row["signal_kinds"])})
        return ProviderCredential(provider=provider_view(row), credential=f"{form.id}:{secret}")

    async def list(self) -> list[ProviderView]:
        async with self.db.connection() as conn:
            return [provider_view(r) for r in await repository.providers(conn)]

    async def authenticate(self, credential: str | None, client: str = "local") -> Actor:
        """The provider presenting `credential` (`<id>:<secret>`), or `Unauthenticated`; a client address
        that keeps presenting wrong credentials is refused for a while (`RateLimited`)."""
        # Counted before the credential is compared, given back if it was right.
        attempt = await self.ephemeral.reserve(Limit("provider-auth-failures", client, AUTH_FAILURES_PER_HOUR, 3600,
                                                     "failed data-provider sign-ins from this address"))
        provider_id, _, secret = (credential or "").partition(":")
        async with self.db.connection() as conn:
            row = await repository.provider(conn, provider_id) if provider_id and secret else None
        expected = row["credential_hash"] if row is not None else b"\x00" * 32
        given = self.cipher.lookup_hash(secret, purpose=CREDENTIAL_PURPOSE)
        if not hmac.compare_digest(bytes(expected), given) or row is None or not row["active"]:
            raise Unauthenticated("unknown data provider or wrong credential")
        await attempt.release()
        return Actor(kind="system", id=f"data-provider:{provider_id}", division=row["division"], role="data_provider")

    async def report(self, provider: Actor, report: SignalReport, today: dt.date | None = None) -> SignalReceipt:
        """Keep one sign of life. The answer is the same whether or not the person is known here (a
        provider learns nothing about who uses Tongban); unknown people are not stored."""
        today = today or china_today()
        provider_id = (provider.id or "").removeprefix("data-provider:")
        try:
            resident_id = normalise_resident_id(report.resident_id)
        except InvalidResidentId as exc:
            raise ValidationFailed.field("resident_id", str(exc)) from None
        known_division(report.place_division, "place_division")
        if report.occurred_on > today:
            raise ValidationFailed.field("occurred_on", "a sign of life cannot be in the future")
        if (today - report.occurred_on).days > MAX_SIGNAL_AGE_DAYS:
            raise ValidationFailed.field("occurred_on", f"older than {MAX_SIGNAL_AGE_DAYS} days: no agency counts it")
        async with self.db.transaction() as conn:
            row = await repository.provider(conn, provider_id)
            if report.kind not in row["signal_kinds"]:
                raise ValidationFailed.field("kind", f"{provider_id} is registered for {', '.join(row['signal_kinds'])}")
            citizen = await repository.citizen_by_resident_hash(
                conn, self.cipher.lookup_hash(resident_id, purpose="resident_id"))
            stored = citizen is not None and await repository.insert_signal(
                conn, provider_id, citizen["id"], report.kind, report.occurred_on, report.place_division,
                report.source_reference)
            await self.audit.record(conn, provider, "life_signal.reported", "data_provider", provider_id,
                                    division=report.place_division,
                                    detail={"kind": report.kind, "reference": report.source_reference,
                                            "stored": bool(stored)})
        return SignalReceipt(accepted=True)

    async def silent_run(self, today: dt.date | None = None,
                         progress: Callable[[str], None] = lambda _: None) -> SilentRun:
        """Recognise, from the signs of life each agency counts, every roster entry that is open or
        overdue; in chunks, each chunk one transaction (a crash loses no half-recorded recognition,
        and a rerun picks up where it stopped: recognised entries are no longer open)."""
        today = today or china_today()
        started = time.perf_counter()
        examined = recognised = 0
        after: uuid.UUID | None = None
        system = Actor.system()
        while True:
            async with self.db.transaction() as conn:
                candidates = await repository.silent_candidates(conn, today, after, SILENT_CHUNK)
                if not candidates:
                    break
                used = await self.recognitions.record_silent(conn, candidates, system, today)
                if used:
                    await repository.use_signals(conn, used)
            examined += len(candidates)
            recognised += len(used)
            after = candidates[-1]["id"]
            progress(f"silent recognition: {recognised} recognised")
        return SilentRun(examined=examined, recognised=recognised, seconds=round(time.perf_counter() - started, 3))
