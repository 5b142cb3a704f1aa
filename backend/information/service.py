"""Information change (信息变更): the citizen changes their address, emergency contact or bank account
for benefit payments. Each kind declares the assurance level a change needs (`CHANGE_LEVELS`; a
session below it gets `step-up-required`); a bank-account change also needs the face check behind the
session's L3 to come from a capture the `bank-account-change` policy accepts (an attested app or a
kiosk; `capture-not-accepted` otherwise, audited). The change, its log row, its event and its audit entry
commit together; agencies that subscribed to the kind get the event as a signed webhook from the
worker, and the citizen sees where each change was delivered and when."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import CaptureNotAccepted, NotFound, StepUpRequired, ValidationFailed
from backend.events.service import EventService
from backend.face.installations import FaceInstallations
from backend.identity import divisions
from backend.information import repository
from backend.information.schemas import (
    AddressChange,
    BankAccountChange,
    ChangeView,
    EmergencyContactChange,
    FieldInfo,
    MyInformation,
)
from backend.security.pii import PiiCipher, mask_middle, mask_name, mask_phone
from backend.security.tokens import level_at_least

# The assurance level each kind of change needs: where benefits are paid is worth a liveness check.
CHANGE_LEVELS = {"address": "L2", "emergency_contact": "L1", "bank_account": "L3"}
# The capture policy (backend/face/capture.py) a bank-account change's face check must satisfy.
BANK_ACCOUNT_CAPTURE_USE = "bank-account-change"
# Changes are published as `citizen.<kind>_changed`, about the subject `citizen_information_change`.
SUBJECT_TYPE = "citizen_information_change"


def event_kind(kind: str) -> str:
    return f"citizen.{kind}_changed"


class InformationService:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher, events: EventService,
                 installations: FaceInstallations) -> None:
        self.db, self.audit, self.cipher, self.events = db, audit, cipher, events
        self.installations = installations

    @staticmethod
    def _require_level(actor: Actor, kind: str) -> str:
        required = CHANGE_LEVELS[kind]
        if not level_at_least(actor.assurance_level, required):
            raise StepUpRequired(required, actor.assurance_level)
        return required

    def _seal(self, kind: str, value: str) -> bytes:
        return self.cipher.encrypt(value, purpose=f"citizen.{kind}")

    # -- changes ----------------------------------------------------------------------------------------

    async def change_address(self, actor: Actor, form: AddressChange) -> ChangeView:
        self._require_level(actor, "address")
        try:
            divisions.check_known_division(form.division_code)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("division_code", str(exc)) from None
        detail = form.detail.strip()
        masked = {"division_code": form.division_code, "detail": mask_middle(detail, 3, 0)}
        return await self._change(actor, "address", {
            "address_division": form.division_code, "address_enc": self._seal("address", detail),
            "address_masked": masked["detail"]}, masked)

    async def change_emergency_contact(self, actor: Actor, form: EmergencyContactChange) -> ChangeView:
        self._require_level(actor, "emergency_contact")
        name = form.name.strip()
        masked = {"name": mask_name(name), "phone": mask_phone(form.phone), "relation": form.relation}
        sealed = msgspec.json.encode({"name": name, "phone": form.phone, "relation": form.relation}).decode()
        return await self._change(actor, "emergency_contact", {
            "emergency_contact_enc": self._seal("emergency_contact", sealed), "emergency_contact_masked": masked},
            masked)

    async def change_bank_account(self, actor: Actor, form: BankAccountChange) -> ChangeView:
        required = self._require_level(actor, "bank_account")
        try:
            capture = await self.installations.require(actor, BANK_ACCOUNT_CAPTURE_USE, required)
        except CaptureNotAccepted as exc:
            await self.audit.record_refusal(self.db, actor, "citizen.information_change_refused", "citizen", actor.id,
                                            detail={"kind": "bank_account", "reason": exc.slug,
                                                    "capture": exc.extensions.get("capture")})
            raise
        masked = {"bank_name": form.bank_name.strip(), "account_number": mask_middle(form.account_number, 4, 4)}
        return await self._change(actor, "bank_account", {
            "bank_name": masked["bank_name"], "bank_account_enc": self._seal("bank_account", form.account_number),
            "bank_account_masked": masked["account_number"]}, masked, holder_name=form.holder_name.strip(),
            capture=capture)

    async def _change(self, actor: Actor, kind: str, columns: dict[str, Any], masked: dict[str, Any],
                      holder_name: str | None = None, capture: str | None = None) -> ChangeView:
        """Store the change, log it, publish its event and audit it, in one transaction."""
        citizen_id = uuid.UUID(actor.id)
        change_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            if holder_name is not None:
                name = await conn.fetchval("SELECT name FROM citizens WHERE id = $1", citizen_id)
                if holder_name != name:
                    raise ValidationFailed.field("holder_name", "benefits are paid only into an account held in "
                                                                "your own registered name")
            division = await repository.update(conn, citizen_id, kind, columns)
            if division is None:
                raise NotFound("citizen not found")
            event_id = await self.events.publish(
                conn, kind=event_kind(kind), subject_type=SUBJECT_TYPE, subject_id=str(change_id), division=division,
                payload={"change_id": str(change_id), "citizen_id": actor.id, "kind": kind, "value": masked,
                         "assurance_level": actor.assurance_level})
            row = await repository.insert_change(conn, change_id, citizen_id, kind, actor.assurance_level, masked,
                                                 event_id)
            view = await self._view(conn, row)
            detail = {"kind": kind, "change_id": str(change_id), "level": actor.assurance_level, "value": masked}
            if capture is not None:
                detail["capture"] = capture
            await self.audit.record(conn, actor, "citizen.information_changed", "citizen", actor.id, division=division,
                                    detail=detail)
        return view

    # -- reading ----------------------------------------------------------------------------------------

    async def _view(self, conn: asyncpg.Connection, row: asyncpg.Record) -> ChangeView:
        deliveries = await self.events.delivered_to(conn, SUBJECT_TYPE, str(row["id"]))
        return ChangeView(id=row["id"], kind=row["kind"], assurance_level=row["assurance_level"], value=row["masked"],
                          changed_at=row["changed_at"], event_id=row["event_id"], deliveries=deliveries)

    async def mine(self, actor: Actor) -> MyInformation:
        """The citizen's information, masked, with the level each change needs. Audited."""
        async with self.db.connection() as conn:
            row = await repository.masked_information(conn, uuid.UUID(actor.id))
        if row is None:
            raise NotFound("citizen not found")
        await self.audit.record_read(actor, "citizen.information_read", "citizen", actor.id,
                                     division=row["home_division"])
        changed = row["changed_at"] or {}
        address = ({"division_code": row["address_division"], "detail": row["address_masked"]}
                   if row["address_division"] else None)
        bank = {"bank_name": row["bank_name"], "account_number": row["bank_account_masked"]} if row["bank_name"] else None
        info = {"address": address, "emergency_contact": row["emergency_contact_masked"], "bank_account": bank}
        return MyInformation(**{kind: FieldInfo(required_level=CHANGE_LEVELS[kind], value=value,  # type: ignore[arg-type]
                                                changed_at=dt.datetime.fromisoformat(changed[kind]) if kind in changed else None)
                                for kind, value in info.items()})

    async def changes(self, actor: Actor, limit: int = 10, offset: int = 0) -> list[ChangeView]:
        """The citizen's changes, newest first, each with where it was delivered and when. Audited."""
        async with self.db.connection() as conn:
            rows = await repository.changes(conn, uuid.UUID(actor.id), limit, offset)
            views = [await self._view(conn, row) for row in rows]
        await self.audit.record_read(actor, "citizen.information_changes_read", "citizen", actor.id,
                                     detail={"count": len(views)})
        return views
