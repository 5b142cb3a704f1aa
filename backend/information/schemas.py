"""Wire shapes of information change: the citizen's address, emergency contact and bank account for
benefit payments, their changes and where each change was delivered."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.events.schemas import Delivery
from backend.identity.schemas import PersonName
from backend.identifiers import VISIBLE, DivisionCode, Phone

ChangeKind = Literal["address", "emergency_contact", "bank_account"]
Level = Literal["L1", "L2", "L3"]


class AddressChange(msgspec.Struct, forbid_unknown_fields=True):
    division_code: DivisionCode
    detail: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=VISIBLE,
                                        examples=["文三路 90 号 3 幢 201 室"], description="street, building and room")]


Relation = Literal["spouse", "child", "parent", "sibling", "other"]


class EmergencyContactChange(msgspec.Struct, forbid_unknown_fields=True):
    name: PersonName
    phone: Phone
    relation: Relation


class BankAccountChange(msgspec.Struct, forbid_unknown_fields=True):
    """The account benefits are paid into; it must be held in the citizen's own name."""

    bank_name: Annotated[str, msgspec.Meta(min_length=2, max_length=64, pattern=VISIBLE, examples=["中国工商银行"])]
    account_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{12,30}(?!\n)$", examples=["6222021234567890123"],
                                                description="12–30 digits, without spaces")]
    holder_name: Annotated[PersonName, msgspec.Meta(description="as the bank has it; must be the citizen's own name")]


class FieldInfo(msgspec.Struct):
    """One kind of information: its masked value (None when never given) and the level a change needs."""

    required_level: Level
    value: dict[str, Any] | None = None
    changed_at: dt.datetime | None = None


class MyInformation(msgspec.Struct):
    address: FieldInfo
    emergency_contact: FieldInfo
    bank_account: FieldInfo


class ChangeView(msgspec.Struct):
    id: uuid.UUID
    kind: ChangeKind
    assurance_level: Level
    value: Annotated[dict[str, Any], msgspec.Meta(description="what the information became, masked")]
    changed_at: dt.datetime
    event_id: uuid.UUID
    deliveries: list[Delivery]
