"""Wire shapes of pension eligibility recognition. Resident IDs and phones appear masked only."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.eligibility.methods import Method
from backend.identifiers import PROVIDER_ID, TYPE_CODE, VISIBLE, DivisionCode

ResidentIdInput = Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="GB 11643 resident ID",
                                              examples=["510107195203150010"])]
Scheme = Literal["employee", "resident", "public_institution"]
Status = Literal["paying", "suspended", "stopped"]
StopReason = Literal["deceased", "emigrated", "transferred", "other"]
Standing = Literal["not-due", "due", "due-soon", "overdue"]
Relationship = Literal["spouse", "child", "parent", "sibling", "grandchild", "other"]
SlotPart = Literal["morning", "afternoon"]
VisitKind = Literal["assisted-counter", "home-visit"]
ProviderId = Annotated[str, msgspec.Meta(pattern=PROVIDER_ID, examples=["hz-medical"])]
SignalKind = Annotated[str, msgspec.Meta(pattern=TYPE_CODE,
                                         examples=["medical_settlement"])]
Text500 = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=VISIBLE)]


class Advice(msgspec.Struct):
    """One reason, in Chinese and English, with what to do about it."""

    code: str
    zh: str
    en: str
    todo_zh: str
    todo_en: str


# -- agencies and rosters ---------------------------------------------------------------------------

class AgencySettings(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=VISIBLE, examples=["四川省社会保险事业管理局"])]
    authority_id: Annotated[str | None, msgspec.Meta(
        description="Issuing authority that signs the pension-eligibility certificates (e.g. `510000-rst`)")] = None
    window_months: Annotated[int, msgspec.Meta(ge=1, le=24, description="A recognition stays valid this long")] = 12
    opens_days_before: Annotated[int, msgspec.Meta(ge=0, le=366, description="Recognition opens this long "
                                                   "before the due date")] = 90
    due_soon_days: Annotated[int, msgspec.Meta(ge=1, le=180)] = 30
    silent_signal_kinds: Annotated[list[SignalKind], msgspec.Meta(max_length=20, description=(
        "Signs of life that count for silent recognition"))] = msgspec.field(default_factory=list)
    silent_max_age_days: Annotated[int, msgspec.Meta(ge=1, le=366)] = 90
    unattested_in_a_row: Annotated[Annotated[int, msgspec.Meta(ge=1, le=10)] | None, msgspec.Meta(description=(
        "A later check for unattested phone captures: after this many phone recognitions in a row whose face "
        "check came from an unattested capture, the next must come from an attested app, a kiosk, staff or a "
        "sign of life. Unset: no such rule"))] = None


class AgencyView(msgspec.Struct):
    division: str
    name: str
    authority_id: str | None
    window_months: int
    opens_days_before: int
    due_soon_days: int
    silent_signal_kinds: list[str]
    silent_max_age_days: int
    unattested_in_a_row: int | None = None


class RosterEntryCreate(msgspec.Struct, forbid_unknown_fields=True):
    resident_id: ResidentIdInput
    residence_division: DivisionCode
    scheme: Scheme
    last_recognised_on: dt.date | None = None
    next_due: Annotated[dt.date | None, msgspec.Meta(
        description="Default: 12 months (the agency's window) after the last recognition, or today")] = None


class RosterEntryUpdate(msgspec.Struct, forbid_unknown_fields=True):
    residence_division: DivisionCode | None = None
    stop_reason: Annotated[StopReason | None, msgspec.Meta(description="Stops the pension (status `stopped`)")] = None
    data_issue: Annotated[str, msgspec.Meta(max_length=500, description=(
        "What in the roster data needs fixing before recognition is accepted; empty text clears it"))] | None = None


class RosterEntryView(msgspec.Struct):
    id: uuid.UUID
    agency_division: str
    agency_name: str
    citizen_id: uuid.UUID
    name: str
    resident_id_masked: str
    residence_division: str
    scheme: Scheme
    status: Status
    stop_reason: StopReason | None
    last_recognised_on: dt.date | None
    next_due: dt.date
    standing: Standing
    data_issue: str | None


class DivisionSummary(msgspec.Struct):
    residence_division: str
    on_roster: int
    due: int
    due_soon: int
    overdue: int
    suspended: int


class SuspensionRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text500
    suspended_from: Annotated[dt.date | None, msgspec.Meta(description="Default: the day after the due date")] = None


class DecisionView(msgspec.Struct):
    id: uuid.UUID
    decision: Literal["suspended", "resumed"]
    reason: str
    suspended_from: dt.date | None
    back_pay_from: dt.date | None
    back_pay_to: dt.date | None
    recognition_id: uuid.UUID | None
    decided_at: dt.datetime


# -- recognition ------------------------------------------------------------------------------------

class Precheck(msgspec.Struct):
    """Everything that would make a recognition fail or be rejected later, before any attempt is spent."""

    ready: bool
    methods: list[Method]
    reasons: list[Advice]
    entry_id: uuid.UUID | None = None
    next_due: dt.date | None = None
    attempts_left_hour: int | None = None
    attempts_left_day: int | None = None


class RecognitionView(msgspec.Struct):
    id: uuid.UUID
    entry_id: uuid.UUID
    method: Method
    method_zh: str
    method_en: str
    recognised_on: dt.date
    recognised_at: dt.datetime
    place_division: str | None
    source: str | None
    next_due: dt.date
    certificate_id: uuid.UUID | None
    event_id: uuid.UUID | None
    proxy: bool = False
    resumed: DecisionView | None = None


class ServicePoint(msgspec.Struct):
    id: str
    kind: Literal["service-window", "kiosk"]
    division: str
    name: str
    address: str
    hours: str | None


class Offers(msgspec.Struct):
    """What a person can do when face checks on the phone fail: never only "try again"."""

    methods: list[Method]
    service_points: list[ServicePoint]
    relatives_authorised: int
    booking: BookingView | None


class PensionStatus(msgspec.Struct):
    """The pensioner's status page (also read by an authorised relative)."""

    entry_id: uuid.UUID
    agency_division: str
    agency_name: str
    residence_division: str
    status: Status
    standing: Standing
    next_due: dt.date
    last: RecognitionView | None
    summary_zh: str
    summary_en: str
    todo: list[Advice]
    booking: BookingView | None


class DeclarationForm(msgspec.Struct, forbid_unknown_fields=True):
    """A signed declaration recorded by staff when a face check is impossible."""

    statement: Text500
    signed_by: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=VISIBLE,
                                           description="Who signed: the pensioner, or their mark witnessed")]
    reason_no_face: Text500
    witness: Annotated[str, msgspec.Meta(max_length=64)] | None = None


# -- relatives ---------------------------------------------------------------------------------------

class RelativeAuthorise(msgspec.Struct, forbid_unknown_fields=True):
    relative_resident_id: ResidentIdInput
    relationship: Relationship


class RelativeView(msgspec.Struct):
    id: uuid.UUID
    citizen_id: uuid.UUID
    citizen_name: str
    relative_id: uuid.UUID
    relative_name: str
    relative_phone_masked: str
    relationship: Relationship
    authorised_via: Literal["self-l3", "service-window"]
    authorised_at: dt.datetime
    revoked_at: dt.datetime | None


class FaceConsentView(msgspec.Struct):
    purpose: str
    given: bool
    wording: str
    given_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None


# -- providers and silent recognition ---------------------------------------------------------------

class ProviderCreate(msgspec.Struct, forbid_unknown_fields=True):
    id: ProviderId
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=VISIBLE)]
    division: DivisionCode
    # Empty for a provider that only answers the data-sharing gateway's queries (backend/sharing).
    signal_kinds: Annotated[list[SignalKind], msgspec.Meta(max_length=20)]


class ProviderView(msgspec.Struct):
    id: str
    name: str
    division: str
    signal_kinds: list[str]
    active: bool
    created_at: dt.datetime


class ProviderCredential(msgspec.Struct):
    provider: ProviderView
    credential: str


class SignalReport(msgspec.Struct, forbid_unknown_fields=True):
    resident_id: ResidentIdInput
    kind: SignalKind
    occurred_on: dt.date
    place_division: DivisionCode
    source_reference: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[!-~]+(?!\n)$")]


class SignalReceipt(msgspec.Struct):
    accepted: bool
    duplicate: bool = False


class SilentRun(msgspec.Struct):
    examined: int
    recognised: int
    seconds: float


# -- visits ------------------------------------------------------------------------------------------

class BookingCreate(msgspec.Struct, forbid_unknown_fields=True):
    kind: VisitKind
    slot_date: dt.date
    slot_part: SlotPart
    note: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class BookingView(msgspec.Struct):
    id: uuid.UUID
    entry_id: uuid.UUID
    kind: VisitKind
    residence_division: str
    slot_date: dt.date
    slot_part: SlotPart
    note: str | None
    status: Literal["booked", "completed", "cancelled"]
    pensioner_name: str | None = None
    recognition_id: uuid.UUID | None = None
