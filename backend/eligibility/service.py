"""Pension eligibility recognition (养老金领取资格认证, policy clause 二(二)), as the rest of Tongban
reaches it: one object whose parts each hold one concern, and the use cases that combine them.

- `rosters`: paying agencies, their rosters, the due / overdue views, suspension decisions;
- `recognitions`: the pre-check, recording a recognition (record, certificate, event in one
  transaction), the status page, the offers after face failures;
- `relatives`: authorised relatives (亲情代办), reused by the kiosk's assisted mode;
- `providers`: registered data providers, their signs of life, silent recognition;
- `visits`: booked assisted and home visits, seen and completed by residence-division staff.

Every way of being recognised ends in `Recognitions.record`; the methods differ only in who acts and
what evidence they bring: the pensioner's own L3 liveness check (`face-phone`), the pensioner's face
checked on an authorised relative's phone (`family-proxy`), at a kiosk (`kiosk`), by residence staff
with a face check or a signed declaration (`assisted-counter`, `home-visit`), or a sign of life from a
registered provider (`silent`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates.service import CertificateService
from backend.china_time import today as china_today
from backend.db import Database
from backend.eligibility import repository
from backend.eligibility.methods import STAFF_METHODS, Method
from backend.eligibility.providers import Providers
from backend.eligibility.recognition import (
    BLOCKING,
    CAPTURE_USE,
    CONSENT_PURPOSE,
    CONSENT_WORDING,
    FACE_ONLY,
    Recognitions,
    refusal,
)
from backend.eligibility.relatives import Relatives
from backend.eligibility.roster import Rosters
from backend.eligibility.schemas import (
    BookingCreate,
    BookingView,
    DeclarationForm,
    FaceConsentView,
    Offers,
    PensionStatus,
    Precheck,
    RecognitionView,
    SilentRun,
)
from backend.eligibility.visits import Visits
from backend.ephemeral import Ephemeral
from backend.errors import CaptureNotAccepted, Conflict, NotFound, StepUpRequired, ValidationFailed
from backend.events.service import EventService
from backend.face.capture import FaceClient
from backend.face.installations import CaptureProof
from backend.face.schemas import FaceDecision, LivenessChallenge, Movement
from backend.face.service import FaceService
from backend.identity.service import STEP_UP_SECONDS
from backend.notifications.service import NotificationService
from backend.security.pii import PiiCipher


def _refuse(check: Precheck, *, face: bool) -> None:
    """Refuse when the pre-check found a reason that blocks this kind of method."""
    blocking = BLOCKING | (FACE_ONLY if face else frozenset())
    reasons = [r for r in check.reasons if r.code in blocking]
    if reasons:
        raise refusal(reasons, check.methods)


def _face_evidence(decision: FaceDecision) -> dict[str, Any]:
    """The check a recognition rests on, with who captured it: the actor who held the camera, who
    helped at a kiosk, the capture's provenance and the attested installation that signed it."""
    return {"face": {"score": decision.score, "threshold": decision.threshold, "challenge": decision.challenge,
                     "liveness": decision.checks.liveness, "passive_anti_spoofing": decision.checks.passive_anti_spoofing,
                     "capture": decision.capture, "captured_by": decision.captured_by,
                     "assisted_by": decision.assisted_by,
                     "installation": str(decision.installation) if decision.installation else None}}


class EligibilityService:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher,
                 certificates: CertificateService, events: EventService, face: FaceService,
                 notifications: NotificationService) -> None:
        self.db, self.audit, self.face = db, audit, face
        self.rosters = Rosters(db, audit, cipher)
        self.recognitions = Recognitions(db, audit, certificates, events, face, notifications)
        self.relatives = Relatives(db, audit, cipher)
        self.providers = Providers(db, ephemeral, audit, cipher, self.recognitions)
        self.visits = Visits(db, audit)

    # -- the pensioner, or a relative for them ---------------------------------------------------

    async def _for(self, actor: Actor, citizen_id: uuid.UUID | None) -> uuid.UUID:
        """Whom the signed-in citizen acts for: themselves, or a person who authorised them."""
        if citizen_id is None or str(citizen_id) == actor.id:
            return uuid.UUID(actor.id)
        async with self.db.connection() as conn:
            await self.relatives.require(conn, actor, citizen_id)
        return citizen_id

    async def status(self, actor: Actor, citizen_id: uuid.UUID | None = None) -> PensionStatus:
        """The status page of the signed-in pensioner or of a person who authorised them. Audited."""
        person = await self._for(actor, citizen_id)
        status = await self.recognitions.status(person)
        await self.audit.record_read(actor, "pension.status_read", "citizen", str(person),
                                     division=status.agency_division if status else None)
        if status is None:
            raise NotFound("not on any paying agency's roster of pensioners")
        return status

    async def precheck(self, actor: Actor, citizen_id: uuid.UUID | None = None) -> Precheck:
        person = await self._for(actor, citizen_id)
        await self._audit_relatives_read(actor, person, "pension.precheck_read")
        return await self.recognitions.precheck(actor, person)

    async def offers(self, actor: Actor, citizen_id: uuid.UUID | None = None) -> Offers:
        person = await self._for(actor, citizen_id)
        await self._audit_relatives_read(actor, person, "pension.offers_read")
        return await self.recognitions.offers(person)

    async def _audit_relatives_read(self, actor: Actor, person: uuid.UUID, action: str) -> None:
        """A relative reading about the person they act for is audited (one's own reads are not)."""
        if str(person) != actor.id:
            async with self.db.transaction() as conn:
                await self.audit.record(conn, actor, action, "citizen", str(person))

    async def book(self, actor: Actor, form: BookingCreate, citizen_id: uuid.UUID | None = None) -> BookingView:
        person = await self._for(actor, citizen_id)
        async with self.db.transaction() as conn:
            entry = await self._entry(conn, person)
            return await self.visits.book(conn, actor, entry, form)

    async def _entry(self, conn: asyncpg.Connection, citizen_id: uuid.UUID) -> asyncpg.Record:
        entries = await repository.entries_of_citizen(conn, citizen_id)
        if not entries:
            raise NotFound("not on any paying agency's roster of pensioners")
        return await repository.entry(conn, entries[0]["id"], for_update=True)  # type: ignore[return-value]

    # -- the separate consent to face recognition ------------------------------------------------

    async def face_consent(self, actor: Actor) -> FaceConsentView:
        async with self.db.connection() as conn:
            row = await repository.face_consent(conn, uuid.UUID(actor.id), CONSENT_PURPOSE)
        return self._consent_view(row)

    async def give_face_consent(self, actor: Actor, via: str = "phone") -> FaceConsentView:
        """The pensioner agrees, separately, to face recognition for pension recognition."""
        async with self.db.transaction() as conn:
            row = await repository.give_face_consent(conn, uuid.UUID(actor.id), CONSENT_PURPOSE, CONSENT_WORDING, via)
            await self.audit.record(conn, actor, "face_consent.given", "citizen", actor.id,
                                    detail={"purpose": CONSENT_PURPOSE, "wording": CONSENT_WORDING, "via": via})
        return self._consent_view(row)

    async def withdraw_face_consent(self, actor: Actor) -> FaceConsentView:
        """Withdrawn at once: face methods are no longer offered; the others remain."""
        async with self.db.transaction() as conn:
            row = await repository.withdraw_face_consent(conn, uuid.UUID(actor.id), CONSENT_PURPOSE)
            if row is None:
                raise Conflict("no consent to face recognition is in force")
            await self.audit.record(conn, actor, "face_consent.withdrawn", "citizen", actor.id,
                                    detail={"purpose": CONSENT_PURPOSE})
        return self._consent_view(row)

    @staticmethod
    def _consent_view(row: asyncpg.Record | None) -> FaceConsentView:
        if row is None:
            return FaceConsentView(purpose=CONSENT_PURPOSE, given=False, wording=CONSENT_WORDING)
        return FaceConsentView(purpose=row["purpose"], given=row["withdrawn_at"] is None, wording=row["wording"],
                               given_at=row["given_at"], withdrawn_at=row["withdrawn_at"])

    # -- 1. self, on the phone ---------------------------------------------------------------------

    async def recognise_self(self, actor: Actor) -> RecognitionView:
        """Record the recognition the signed-in pensioner earned with the L3 liveness check that raised
        this session (the HTTP layer requires L3); its scores are the evidence."""
        citizen_id = uuid.UUID(actor.id)
        _refuse(await self.recognitions.precheck(actor, citizen_id), face=True)
        await self._capture_accepted(actor)
        async with self.db.transaction() as conn:
            check = await repository.last_liveness_check(conn, actor.id or "", STEP_UP_SECONDS)
            if check is None:
                raise StepUpRequired("L3", "L3, but no liveness check in the last 15 minutes")
            entry = await self._entry(conn, citizen_id)
            evidence = {"face": {**{k: check["detail"].get(k) for k in (
                "score", "threshold", "challenge", "capture", "passive_anti_spoofing", "model")},
                "liveness": "active-challenge", "checked_at": check["at"].isoformat()}}
            return await self.recognitions.record(conn, entry, "face-phone", actor, evidence=evidence,
                                                  place_division=None)

    async def _capture_accepted(self, actor: Actor) -> None:
        """Refuse (403 `capture-not-accepted`, audited) unless the capture behind the session's L3 is one
        the `pension-recognition` policy accepts."""
        try:
            await self.face.installations.require(actor, CAPTURE_USE)
        except CaptureNotAccepted as exc:
            await self.audit.record_refusal(self.db, actor, "pension.recognition_refused", "citizen", actor.id,
                                            detail={"reason": exc.slug, "capture": exc.extensions.get("capture")})
            raise

    # -- 2. family proxy ---------------------------------------------------------------------------

    async def proxy_challenge(self, actor: Actor, citizen_id: uuid.UUID, movement: Movement,
                              client: FaceClient) -> LivenessChallenge:
        """A liveness challenge of the pensioner, on the authorised relative's phone."""
        await self._for(actor, citizen_id)
        _refuse(await self.recognitions.precheck(actor, citizen_id), face=True)
        return await self.face.issue_challenge_for(actor, citizen_id, movement, client)

    async def proxy_recognise(self, actor: Actor, citizen_id: uuid.UUID, challenge_id: str, frames: list[bytes],
                              client: FaceClient, proof: CaptureProof | None = None) -> RecognitionView:
        """The pensioner's face and liveness checked against the pensioner's reference, on the relative's
        phone (signed by its attested installation with `proof`); the relative's session is not raised.
        Both identities are recorded, and the relative as who captured."""
        await self._for(actor, citizen_id)
        _refuse(await self.recognitions.precheck(actor, citizen_id), face=True)
        decision = await self.face.check_for(actor, citizen_id, challenge_id, frames, client, proof, use=CAPTURE_USE)
        async with self.db.transaction() as conn:
            await self.relatives.require(conn, actor, citizen_id)  # still authorised after the check
            entry = await self._entry(conn, citizen_id)
            return await self.recognitions.record(conn, entry, "family-proxy", actor, evidence=_face_evidence(decision),
                                                  place_division=None, proxy_citizen_id=uuid.UUID(actor.id))

    # -- 3. at a kiosk (the kiosk stream calls these) ----------------------------------------------

    async def kiosk_challenge(self, kiosk: Actor, citizen_id: uuid.UUID, movement: Movement,
                              client: FaceClient) -> LivenessChallenge:
        """A liveness challenge of the resident signed in at the kiosk (`kiosk` is the kiosk's actor,
        `client.capture` = `kiosk:<id>`)."""
        _refuse(await self.recognitions.precheck(kiosk, citizen_id), face=True)
        return await self.face.issue_challenge_for(kiosk, citizen_id, movement, client)

    async def kiosk_recognise(self, kiosk: Actor, citizen_id: uuid.UUID, challenge_id: str, frames: list[bytes],
                              client: FaceClient, *, assisting_relative: uuid.UUID | None = None) -> RecognitionView:
        """Recognition at a township kiosk; with `assisting_relative`, a relative authorised by the
        pensioner helped (checked here)."""
        _refuse(await self.recognitions.precheck(kiosk, citizen_id), face=True)
        decision = await self.face.check_for(kiosk, citizen_id, challenge_id, frames, client, use=CAPTURE_USE)
        async with self.db.transaction() as conn:
            if assisting_relative is not None and await repository.authorisation(
                    conn, citizen_id, assisting_relative) is None:
                raise NotFound("no such person")
            entry = await self._entry(conn, citizen_id)
            evidence = _face_evidence(decision) | {"source": f"kiosk {kiosk.id}"}
            return await self.recognitions.record(conn, entry, "kiosk", kiosk, evidence=evidence,
                                                  place_division=kiosk.division, proxy_citizen_id=assisting_relative)

    # -- 4. assisted or home visit by residence-division staff -------------------------------------

    async def staff_challenge(self, actor: Actor, entry_id: uuid.UUID, movement: Movement,
                              client: FaceClient) -> LivenessChallenge:
        async with self.db.connection() as conn:
            entry = await self.rosters.entry_for_staff(conn, actor, entry_id, residence=True, roster=False)
        _refuse(await self.recognitions.precheck(actor, entry["citizen_id"]), face=True)
        return await self.face.issue_challenge_for(actor, entry["citizen_id"], movement, client)

    async def staff_recognise(self, actor: Actor, entry_id: uuid.UUID, method: Method, *,
                              face: tuple[str, list[bytes], FaceClient] | None = None,
                              declaration: DeclarationForm | None = None,
                              booking_id: uuid.UUID | None = None) -> RecognitionView:
        """Residence-division staff record an assisted or home-visit recognition with their own face check
        of the pensioner (`face`: challenge id, frames, client) or a signed declaration when a face check
        is impossible; a booked visit is completed with it."""
        if method not in STAFF_METHODS:
            raise ValidationFailed.field("method", f"staff record {' or '.join(sorted(STAFF_METHODS))}")
        async with self.db.connection() as conn:
            entry = await self.rosters.entry_for_staff(conn, actor, entry_id, residence=True, roster=False)
        _refuse(await self.recognitions.precheck(actor, entry["citizen_id"]), face=face is not None)
        if face is not None:
            challenge_id, frames, client = face
            evidence = _face_evidence(await self.face.check_for(actor, entry["citizen_id"], challenge_id, frames, client,
                                                                use=CAPTURE_USE))
        else:
            assert declaration is not None
            evidence = {"declaration": {"statement": declaration.statement, "signed_by": declaration.signed_by,
                                        "witness": declaration.witness, "reason_no_face": declaration.reason_no_face}}
        async with self.db.transaction() as conn:
            entry = await repository.entry(conn, entry_id, for_update=True)
            booking = None
            if booking_id is not None:
                booking = await self.visits.booking_for_completion(conn, booking_id)
                if booking is None or booking["entry_id"] != entry_id or booking["status"] != "booked":
                    raise ValidationFailed.field("booking_id", "no open booking of this pensioner has this id")
            view = await self.recognitions.record(conn, entry, method, actor, evidence=evidence,
                                                  place_division=actor.division, staff_id=uuid.UUID(actor.id))
            if booking is not None:
                await self.visits.complete(conn, booking_id, view.id, uuid.UUID(actor.id))  # type: ignore[arg-type]
        return view

    # -- jobs --------------------------------------------------------------------------------------

    async def silent_run(self, today: dt.date | None = None,
                         progress: Callable[[str], None] = lambda _: None) -> SilentRun:
        return await self.providers.silent_run(today or china_today(), progress)
