"""Residents at a kiosk: sign-in with the resident ID card and a live photo matched against the card's
chip photo, a session bound to the device (only requests signed by that kiosk use it), ended when the
card is removed or after an idle timeout; staff assistance (帮办); face enrolment from the chip photo."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import (
    Forbidden,
    KioskCapabilityMissing,
    KioskSessionEnded,
    ValidationFailed,
)
from backend.face.capture import FaceClient
from backend.face.schemas import FaceEnrolment
from backend.face.service import FaceService
from backend.identity import divisions
from backend.identity import repository as identity_repository
from backend.identity.resident_id import InvalidResidentId, mask_resident_id, normalise_resident_id
from backend.identity.service import IdentityService
from backend.kiosks import repository
from backend.kiosks.devices import Kiosk
from backend.kiosks.schemas import (
    CardRead,
    KioskAssistant,
    KioskResident,
    KioskSessionState,
    KioskSignIn,
    StaffAssistance,
)
from backend.security.pii import PiiCipher, mask_name

# Staff who may operate a kiosk for a resident: those who serve residents at a window, in the kiosk's division.
ASSISTING_ROLES = frozenset({"receiving_officer", "handling_officer"})


def _resident(row: asyncpg.Record, enrolled: bool) -> KioskResident:
    return KioskResident(name=mask_name(row["name"]), resident_id_masked=row["resident_id_masked"],
                         has_phone=row["phone_masked"] is not None, face_enrolled=enrolled)


class KioskSessions:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher, identity: IdentityService,
                 face: FaceService) -> None:
        self.db, self.audit, self.cipher, self.identity, self.face = db, audit, cipher, identity, face

    @staticmethod
    def _needs(kiosk: Kiosk, *capabilities: str) -> None:
        missing = [c for c in capabilities if c not in kiosk.capabilities]
        if missing:
            raise KioskCapabilityMissing(f"this kiosk is not registered with: {', '.join(missing)}")

    def _card(self, card: CardRead, today: dt.date) -> tuple[str, bytes]:
        try:
            resident_id = normalise_resident_id(card.resident_id)
        except InvalidResidentId as exc:
            raise ValidationFailed.field("resident_id", str(exc)) from None
        if card.valid_until is not None and card.valid_until < today:
            raise ValidationFailed.field("valid_until", "the ID card has expired; renew it at the police station")
        return resident_id, self.cipher.lookup_hash(resident_id, purpose="resident_id")

    async def sign_in(self, kiosk: Kiosk, card: CardRead, chip_photo: bytes, photo: bytes, address: str,
                      request_id: str | None) -> KioskSignIn:
        """The live photo must match the card's chip photo; then the resident (registered now if new,
        without a phone) gets a session that only this kiosk can use. An open session at the kiosk ends."""
        self._needs(kiosk, "reader", "camera")
        resident_id, card_hash = self._card(card, dt.date.today())
        device = kiosk.actor(request_id)
        capture = f"kiosk:{kiosk.id}"
        await self.face.compare_with_card(device, card_hash.hex(), mask_resident_id(resident_id), chip_photo, photo,
                                          FaceClient(address=address, device=str(kiosk.id), capture=capture))
        async with self.db.transaction() as conn:
            row, created = await self.identity.card_holder(conn, resident_id, card.name, device)
            await repository.end_sessions_of_kiosk(conn, kiosk.id, "replaced")
            session_id = await identity_repository.insert_session(conn, "citizen", row["id"], "L2")
            await repository.insert_kiosk_session(conn, session_id, kiosk.id, row["id"], card_hash)
            enrolled = await repository.face_enrolled(conn, row["id"])
            who = Actor(kind="citizen", id=str(row["id"]), request_id=request_id, session_id=str(session_id),
                        assurance_level="L2", device=str(kiosk.id))
            await self.audit.record(conn, who, "kiosk.session_opened", "auth_session", str(session_id),
                                    division=kiosk.division_code, detail={"method": "id-card+face",
                                                                          "capture": capture, "new_resident": created})
        configuration = kiosk.configuration
        return KioskSignIn(session_id=session_id, resident=_resident(row, enrolled), assurance_level="L2",
                           new_resident=created, idle_timeout_seconds=configuration.idle_timeout_seconds,
                           idle_warning_seconds=configuration.idle_warning_seconds, capture=capture)

    async def resume(self, kiosk: Kiosk, session_id: uuid.UUID, request_id: str | None) -> Actor:
        """The resident acting through this kiosk, if the session is theirs here and still open; each
        use counts as activity. Past the idle timeout the session ends (and stays ended); so it does
        once the staff member assisting it is disabled or deleted: nobody acts on the resident's behalf
        under an account that no longer works, and the resident signs in again with the card."""
        timeout = kiosk.configuration.idle_timeout_seconds
        async with self.db.transaction() as conn:
            row = await repository.kiosk_session(conn, session_id, for_update=True)
            if row is None or row["kiosk_id"] != kiosk.id:
                raise KioskSessionEnded("no open session of this kiosk has this id; sign in with the ID card",
                                        reason="unknown")
            ended = row["end_reason"]
            if ended is None:
                if (row["now"] - row["last_activity_at"]).total_seconds() > timeout:
                    ended = "idle-timeout"
                elif row["assistant_active"] is False:
                    ended = "assistant-disabled"
                if ended is None:
                    await repository.touch_kiosk_session(conn, session_id)
                else:
                    await repository.end_kiosk_session(conn, session_id, ended)
                    await self.audit.record(conn, self._actor(row, request_id), "kiosk.session_ended",
                                            "auth_session", str(session_id), division=kiosk.division_code,
                                            detail={"reason": ended})
        if ended == "assistant-disabled":
            raise KioskSessionEnded("the staff member assisting this session can no longer act (their account was "
                                    "disabled), so the session has ended; sign in again with the ID card",
                                    reason=ended)
        if ended is not None:
            raise KioskSessionEnded(f"the session has ended ({ended}); sign in again with the ID card", reason=ended)
        return self._actor(row, request_id)

    @staticmethod
    def _actor(row: asyncpg.Record, request_id: str | None) -> Actor:
        assisted = f"{row['assistant_kind']}:{row['assistant_id']}" if row["assistant_kind"] else None
        return Actor(kind="citizen", id=str(row["citizen_id"]), request_id=request_id,
                     session_id=str(row["session_id"]), assurance_level="L2", device=str(row["kiosk_id"]),
                     assisted_by=assisted)

    async def state(self, kiosk: Kiosk, actor: Actor) -> KioskSessionState:
        """Who is signed in (masked), who assists (named, for the screen's banner), time left."""
        async with self.db.connection() as conn:
            row = await repository.kiosk_session(conn, uuid.UUID(actor.session_id or ""))
            citizen = await identity_repository.citizen_by(conn, "id", row["citizen_id"])
            enrolled = await repository.face_enrolled(conn, row["citizen_id"])
            staff = (await identity_repository.staff_by_id(conn, row["assistant_id"])
                     if row["assistant_kind"] == "staff" else None)
        configuration = kiosk.configuration
        left = configuration.idle_timeout_seconds - int((row["now"] - row["last_activity_at"]).total_seconds())
        assisted_by = f"{row['assistant_kind']}:{row['assistant_id']}" if row["assistant_kind"] else None
        assistant = KioskAssistant(kind="staff", display_name=staff["display_name"]) if staff is not None else None
        return KioskSessionState(session_id=row["session_id"], resident=_resident(citizen, enrolled),
                                 assisted_by=assisted_by, assistant=assistant,
                                 idle_timeout_seconds=configuration.idle_timeout_seconds,
                                 idle_warning_seconds=configuration.idle_warning_seconds, seconds_left=max(0, left))

    async def end(self, kiosk: Kiosk, actor: Actor, reason: str) -> None:
        """End the session: the card was removed, or the resident signed out."""
        async with self.db.transaction() as conn:
            if await repository.end_kiosk_session(conn, uuid.UUID(actor.session_id or ""), reason):
                await self.audit.record(conn, actor, "kiosk.session_ended", "auth_session", actor.session_id,
                                        division=kiosk.division_code, detail={"reason": reason})

    async def assist(self, kiosk: Kiosk, actor: Actor, form: StaffAssistance, address: str) -> KioskSessionState:
        """A staff member of the kiosk's division operates it for the resident from now on; every later
        audit entry of the session names them too."""
        pair = await self.identity.sign_in_staff(form.username, form.password, address, actor)
        claims = self.identity.tokens.read(pair.access_token)
        staff = Actor(kind="staff", id=claims.sub, role=claims.role, division=claims.division,
                      session_id=claims.session_id, request_id=actor.request_id)
        await self.identity.sign_out(staff)  # only the identity was needed, not a staff session at the kiosk
        if claims.role not in ASSISTING_ROLES or not divisions.within(claims.division or "", kiosk.division_code):
            await self.audit.record_refusal(self.db, actor, "kiosk.assistance_refused", "auth_session",
                                            actor.session_id, division=kiosk.division_code,
                                            detail={"staff": claims.sub})
            raise Forbidden("only window staff whose division covers this kiosk may assist here")
        async with self.db.transaction() as conn:
            await repository.set_assistant(conn, uuid.UUID(actor.session_id or ""), "staff", uuid.UUID(claims.sub))
            assisted = dataclasses.replace(actor, assisted_by=f"staff:{claims.sub}")
            await self.audit.record(conn, assisted, "kiosk.assistance_started", "auth_session", actor.session_id,
                                    division=kiosk.division_code, detail={"assistant_role": claims.role})
        return await self.state(kiosk, assisted)

    async def end_assistance(self, kiosk: Kiosk, actor: Actor) -> KioskSessionState:
        """The assistant stops operating the kiosk: the resident stays signed in, and later audit entries
        of the session name the resident alone. Audited with both identities; nobody assisting changes
        nothing (and is not audited), so a repeated request answers the same."""
        async with self.db.transaction() as conn:
            before = await repository.clear_assistant(conn, uuid.UUID(actor.session_id or ""))
            if before is not None:
                assisted = dataclasses.replace(actor, assisted_by=f"{before['assistant_kind']}:{before['assistant_id']}")
                await self.audit.record(conn, assisted, "kiosk.assistance_ended", "auth_session", actor.session_id,
                                        division=kiosk.division_code)
        return await self.state(kiosk, dataclasses.replace(actor, assisted_by=None))

    async def enrol_face(self, kiosk: Kiosk, actor: Actor, card: CardRead, chip_photo: bytes,
                         consent: bool) -> FaceEnrolment:
        """Enrol the signed-in resident's face reference from the chip photo of the card still in the reader."""
        self._needs(kiosk, "reader")
        _, card_hash = self._card(card, dt.date.today())
        async with self.db.connection() as conn:
            row = await repository.kiosk_session(conn, uuid.UUID(actor.session_id or ""))
        if row["card_hash"] != card_hash:
            raise ValidationFailed.field("resident_id", "this is not the card the session was opened with")
        return await self.face.enrol_from_card(actor, uuid.UUID(actor.id or ""), kiosk.id, chip_photo, consent=consent)
