"""Demonstration information changes: 陈静's address and emergency contact, and the account 王建国's
pension is paid into (as made in an L3 session whose face check came from an attested phone app, which a
bank-account change requires). SAMPLE data; loading twice changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from backend.actors import Actor
from backend.container import Services
from backend.face import repository as face_repository
from backend.identity import repository as identity_repository
from backend.information import repository
from backend.information.schemas import AddressChange, BankAccountChange, EmergencyContactChange

CHANGES = [
    ("330106198806120025", "address", AddressChange(division_code="330106", detail="文三路 90 号 3 幢 201 室")),
    ("330106198806120025", "emergency_contact",
     EmergencyContactChange(name="陈晓明", phone="13900001111", relation="sibling")),
    ("510107195203150010", "bank_account",
     BankAccountChange(bank_name="中国农业银行", account_number="6228480402564890018", holder_name="王建国")),
]
DEMO_CAPTURE = "android-key-attestation"


async def load_demo_information(services: Services, progress: Callable[[str], None] = print) -> None:
    information = services.information
    change = {"address": information.change_address, "emergency_contact": information.change_emergency_contact,
              "bank_account": information.change_bank_account}
    for resident_id, kind, form in CHANGES:
        async with services.db.connection() as conn:
            citizen = await identity_repository.citizen_by(
                conn, "resident_id_hash", services.cipher.lookup_hash(resident_id, purpose="resident_id"))
            if await repository.has_changed(conn, citizen["id"], kind):
                continue
        async with services.db.transaction() as conn:
            # A session of its own, stepped up to L3 by an attested capture (the demo has no phone to
            # attest), closed once the change is made.
            session_id = await identity_repository.insert_session(conn, "citizen", citizen["id"], "L3")
            await face_repository.record_session_capture(conn, session_id, "L3", DEMO_CAPTURE, None)
        actor = Actor(kind="citizen", id=str(citizen["id"]), session_id=str(session_id), assurance_level="L3")
        try:
            await change[kind](actor, form)  # type: ignore[operator]
        finally:
            async with services.db.transaction() as conn:
                await identity_repository.revoke_session(conn, session_id, "demo change made")
        progress(f"information change: {kind} of {citizen['resident_id_masked']}")
