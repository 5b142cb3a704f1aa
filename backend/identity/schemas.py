"""Wire shapes of identity: what clients send and what they get back."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.identifiers import USERNAME, VISIBLE, DivisionCode, OneTimeCode, Phone

ResidentIdInput = Annotated[str, msgspec.Meta(
    min_length=1, max_length=32, description="GB 11643 resident ID number (18 characters)",
    examples=["11010519491231002X"])]
PersonName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=VISIBLE, examples=["张三"])]
Role = Literal["receiving_officer", "handling_officer", "supervisor", "admin", "pension_officer"]
Level = Literal["L1", "L2", "L3"]


class CodeRequest(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone


class CodeSent(msgspec.Struct):
    phone: str
    expires_in: int


class CitizenSignIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    code: OneTimeCode


class CitizenRegistration(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    code: OneTimeCode
    resident_id: ResidentIdInput
    name: PersonName
    home_division: DivisionCode


class StaffSignIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=16, max_length=128)]


class ResidentIdLookup(msgspec.Struct, forbid_unknown_fields=True):
    resident_id: ResidentIdInput


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    assurance_level: Level
    token_type: str = "Bearer"


class CitizenProfile(msgspec.Struct):
    id: uuid.UUID
    name: str
    resident_id_masked: str
    phone_masked: str | None  # None: a resident who signed in with an ID card at a kiosk and gave no phone
    home_division: str
    birth_date: dt.date


class PhoneChange(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    code: OneTimeCode


class StaffCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(pattern=USERNAME, examples=["zj.receiving"])]
    display_name: PersonName
    password: Annotated[str, msgspec.Meta(min_length=12, max_length=256)]
    role: Role
    division_code: DivisionCode


class StaffAccount(msgspec.Struct):
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    division_code: str
    active: bool
