"""Wire shapes of the data-sharing gateway: providers and purposes, evidence with its human-readable
copy, agencies' requests and the citizen's previews, log and consents."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.identifiers import FIELD_NAME, PROVIDER_ID, VISIBLE, CaseNumber, DivisionCode
from backend.identity.schemas import ResidentIdInput

ProviderId = Annotated[str, msgspec.Meta(pattern=PROVIDER_ID, examples=["demo.housing-fund"])]
PurposeCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z-]{1,63}(?!\n)$", examples=["case-handling"])]
FieldName = Annotated[str, msgspec.Meta(pattern=FIELD_NAME, examples=["balance"])]
RequestState = Literal["answered", "awaiting-citizen", "shared", "refused", "expired", "failed"]
Basis = Literal["own-request", "legal", "consent"]


class FieldView(msgspec.Struct):
    name: str
    title: str


class PurposeView(msgspec.Struct):
    code: str
    name: str
    name_en: str


class ProviderView(msgspec.Struct):
    id: str
    name: str
    division: str
    dataset: str
    title: str
    fields: list[FieldView]
    purposes: Annotated[dict[str, list[str]], msgspec.Meta(description="purpose → the fields it may release")]
    registered: Annotated[bool, msgspec.Meta(description="active in the data-provider registry")]
    sample: bool = True


class Evidence(msgspec.Struct):
    """What a provider answered: the structured data and a human-readable copy of the same."""

    request_id: uuid.UUID
    provider: str
    provider_name: str
    title: str
    purpose: str
    retrieved_at: dt.datetime
    found: Annotated[bool, msgspec.Meta(description="false: the provider holds no record of this person")]
    data: dict[str, Any]
    readable: Annotated[str, msgspec.Meta(description="the same data as plain Chinese text, for people")]


class AgencyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """An agency asks for a citizen's record for a purpose, on a legal basis or the citizen's consent
    (exactly one). The citizen previews the evidence and accepts or refuses."""

    resident_id: ResidentIdInput
    provider: ProviderId
    purpose: PurposeCode
    fields: Annotated[list[FieldName], msgspec.Meta(min_length=1, max_length=30)] | None = None
    legal_reference: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=VISIBLE,
                                                 examples=["《住房公积金管理条例》第二十四条"])] | None = None
    consent_id: uuid.UUID | None = None
    case_number: Annotated[CaseNumber, msgspec.Meta(
        description="the case the request is for: a case in your divisions (its receiving or handling division, "
                    "or a coordination task's, lies within yours)")] | None = None


class Requester(msgspec.Struct):
    kind: Literal["citizen", "staff"]
    division: str | None = None
    division_name: str | None = None
    role: str | None = None


class RequestView(msgspec.Struct):
    """One entry of the log: who asked what, when, why, and what was shared."""

    id: uuid.UUID
    provider: str
    provider_name: str
    title: str
    fields: list[FieldView]
    purpose: str
    purpose_name: str
    basis: Basis
    requester: Requester
    state: RequestState
    disclosed: list[str]
    created_at: dt.datetime
    legal_reference: str | None = None
    consent_id: uuid.UUID | None = None
    case_number: Annotated[str | None, msgspec.Meta(description="the case the request was made for")] = None
    case_reference: Annotated[str | None, msgspec.Meta(
        description="requests made before cases were linked: the agency's own text, never checked")] = None
    failure: str | None = None
    preview_expires_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None


class Preview(msgspec.Struct):
    """What will be shared, with whom and why; the evidence itself while the citizen decides."""

    request: RequestView
    evidence: Evidence | None = None


class SharedEvidence(msgspec.Struct):
    """The requesting agency's view: the request, and the evidence once the citizen accepted."""

    request: RequestView
    evidence: Evidence | None = None


class ConsentCreate(msgspec.Struct, forbid_unknown_fields=True):
    requester_division: Annotated[DivisionCode, msgspec.Meta(description="the agency's division")]
    purposes: Annotated[list[PurposeCode], msgspec.Meta(min_length=1, max_length=20)]
    providers: Annotated[list[ProviderId], msgspec.Meta(min_length=1, max_length=20)]
    valid_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30


class ConsentView(msgspec.Struct):
    id: uuid.UUID
    requester_division: str
    purposes: list[str]
    providers: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    status: Literal["active", "expired", "withdrawn"]
    withdrawn_at: dt.datetime | None = None
