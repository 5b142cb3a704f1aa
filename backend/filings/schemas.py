"""Wire shapes of annual filings (年审年报): organisations and their representatives, obligations,
filings and what staff see of them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.catalogue.schemas import FormProblem
from backend.events.schemas import Delivery
from backend.identity.schemas import PersonName, ResidentIdInput
from backend.identifiers import TYPE_CODE, VISIBLE, DivisionCode

CreditCodeInput = Annotated[str, msgspec.Meta(
    min_length=1, max_length=32, description="GB 32100 unified social credit code (18 characters)",
    examples=["91510100MA6C7K8R0C"])]
KindCode = Annotated[str, msgspec.Meta(pattern=TYPE_CODE, examples=["enterprise_annual_report"])]
Period = Annotated[int, msgspec.Meta(ge=2000, le=2100, description="The year the filing is for", examples=[2025])]
Reference = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z-]{1,32}(?!\n)$",
                                        description="The licence's or benefit's own number", examples=["330100123456"])]
OrganisationName = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=VISIBLE,
                                               examples=["成都示例科技有限公司"])]
Form = Annotated[dict[str, Any], msgspec.Meta(
    description="The filer's part of the form: every field of the kind's form schema except the bound ones, "
                "which the service fills in from the record")]
FilingState = Literal["draft", "submitted", "amended"]
PeriodStatus = Literal["not-open", "due", "filed", "late", "missing"]
RepresentativeRole = Literal["legal_representative", "filer"]


# -- organisations ----------------------------------------------------------------------------------

class OrganisationRegistration(msgspec.Struct, forbid_unknown_fields=True):
    """An organisation as its registration authority knows it, with its legal representative (a
    registered citizen named by resident ID)."""

    credit_code: CreditCodeInput
    name: OrganisationName
    legal_representative: ResidentIdInput


class FilerGrant(msgspec.Struct, forbid_unknown_fields=True):
    """A registered citizen the legal representative authorises to file for the organisation."""

    resident_id: ResidentIdInput


class RepresentativeView(msgspec.Struct):
    id: uuid.UUID
    citizen_id: uuid.UUID
    name: PersonName
    resident_id_masked: str
    role: RepresentativeRole
    granted_at: dt.datetime


class OrganisationView(msgspec.Struct):
    id: uuid.UUID
    credit_code: str
    name: str
    division_code: str
    created_at: dt.datetime
    representatives: list[RepresentativeView]


class MyOrganisation(msgspec.Struct):
    id: uuid.UUID
    credit_code: str
    name: str
    division_code: str
    role: RepresentativeRole


# -- obligations ------------------------------------------------------------------------------------

class ObligationCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Register a subject's annual obligation: an organisation by credit code, or a citizen by
    resident ID (exactly one)."""

    kind: KindCode
    first_period: Period
    credit_code: CreditCodeInput | None = None
    resident_id: ResidentIdInput | None = None
    division_code: Annotated[DivisionCode | None, msgspec.Meta(
        description="The receiving authority's division; an organisation's defaults to its registration division")] = None
    reference: Reference | None = None
    anchor_date: Annotated[dt.date | None, msgspec.Meta(
        description="For kinds whose window counts from an anniversary (a licence's first issue date)")] = None
    last_period: Period | None = None


class SubjectView(msgspec.Struct):
    kind: Literal["organisation", "citizen"]
    name: str
    identifier: Annotated[str, msgspec.Meta(description="the credit code, or the masked resident ID")]


class KindView(msgspec.Struct):
    code: str
    name: str
    subject: Literal["organisation", "citizen"]
    basis: str
    window_rule: str
    item_code: str | None
    bound_fields: list[str]
    form_schema: dict[str, Any]
    sample: bool = True


class ObligationView(msgspec.Struct):
    id: uuid.UUID
    kind: str
    kind_name: str
    subject: SubjectView
    division_code: str
    first_period: int
    created_at: dt.datetime
    reference: str | None = None
    anchor_date: dt.date | None = None
    last_period: int | None = None


class PeriodView(msgspec.Struct):
    """One period of an obligation: its window and where it stands on the day asked."""

    period: int
    window_opens: dt.date
    window_closes: dt.date
    status: PeriodStatus
    filed_at: dt.datetime | None = None
    filing_id: uuid.UUID | None = None
    receipt_number: str | None = None
    draft_id: uuid.UUID | None = None


class ObligationPeriods(msgspec.Struct):
    obligation: ObligationView
    periods: list[PeriodView]


# -- filings ----------------------------------------------------------------------------------------

class DraftCreate(msgspec.Struct, forbid_unknown_fields=True):
    obligation_id: uuid.UUID
    period: Period
    form: Form = {}


class DraftChange(msgspec.Struct, forbid_unknown_fields=True):
    """A JSON merge patch (RFC 7396) of the draft's form: fields given replace theirs, `null` removes one."""

    form: dict[str, Any]


class AmendmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An amendment starts as a copy of the filing it amends; `form` changes it as a merge patch."""

    form: dict[str, Any] = {}


class FilingView(msgspec.Struct):
    id: uuid.UUID
    obligation_id: uuid.UUID
    kind: str
    kind_name: str
    subject: SubjectView
    period: int
    state: FilingState
    window_opens: dt.date
    window_closes: dt.date
    form: Annotated[dict[str, Any], msgspec.Meta(description="the filer's fields; phones and resident IDs masked")]
    bound: Annotated[dict[str, Any], msgspec.Meta(description="fields filled in from the record, masked likewise")]
    created_at: dt.datetime
    updated_at: dt.datetime
    amends: uuid.UUID | None = None
    amended_by: uuid.UUID | None = None
    receipt_number: str | None = None
    late: bool | None = None
    submitted_at: dt.datetime | None = None
    amended_at: dt.datetime | None = None
    form_digest: Annotated[str | None, msgspec.Meta(description="SHA-256 of the submitted form, hex")] = None
    deliveries: Annotated[list[Delivery], msgspec.Meta(
        description="for a submitted filing: the agencies its event was sent to, and how it went")] = []
    problems: Annotated[list[FormProblem], msgspec.Meta(
        description="for a draft: what submitting it now would be refused for (empty when it would pass)")] = []


class FilingSummary(msgspec.Struct):
    id: uuid.UUID
    period: int
    state: FilingState
    created_at: dt.datetime
    amends: uuid.UUID | None = None
    receipt_number: str | None = None
    late: bool | None = None
    submitted_at: dt.datetime | None = None


# -- what staff see ---------------------------------------------------------------------------------

class OverviewRow(msgspec.Struct):
    obligation_id: uuid.UUID
    subject: SubjectView
    division_code: str
    window_opens: dt.date
    window_closes: dt.date
    status: PeriodStatus
    reference: str | None = None
    filing_id: uuid.UUID | None = None
    receipt_number: str | None = None
    filed_at: dt.datetime | None = None


class Overview(msgspec.Struct):
    kind: str
    period: int
    as_of: dt.date
    counts: dict[str, int]
    rows: list[OverviewRow]
    next_after: Annotated[uuid.UUID | None, msgspec.Meta(description="pass as `after` for the next page")] = None
