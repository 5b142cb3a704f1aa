"""Wire shapes of e-certificates: issuing, holding, revoking, verifying and consented checks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.certificates.qr_format import Reason
from backend.certificates.trust_lists import KeyStatus, RevocationReason
from backend.identifiers import AUTHORITY_ID, FIELD_NAME, TypeCode

AuthorityId = Annotated[str, msgspec.Meta(
    pattern=AUTHORITY_ID, examples=["330000-rst"],
    description="Issuing authority: its GB/T 2260 division code and a department code")]
Scope = Annotated[str, msgspec.Meta(pattern=FIELD_NAME, examples=["residence_address"])]
# `key-withdrawn`: the key that signed it was withdrawn as compromised, so it no longer verifies.
CertificateStatus = Literal["valid", "not-yet-valid", "expired", "revoked", "key-withdrawn"]


# -- issuing --------------------------------------------------------------------------------------

class CitizenHolder(msgspec.Struct, tag_field="kind", tag="citizen", forbid_unknown_fields=True):
    """A registered citizen, named by account id or by resident ID number (never put in a URL)."""

    citizen_id: uuid.UUID | None = None
    resident_id: Annotated[str, msgspec.Meta(max_length=32, examples=["11010519491231002X"])] | None = None


# Text that is not only blanks: it is stripped before use, and must still say something.
NOT_BLANK = r"\S"


class OrganisationHolder(msgspec.Struct, tag_field="kind", tag="organisation", forbid_unknown_fields=True):
    credit_code: Annotated[str, msgspec.Meta(max_length=32, examples=["91330106MA2B0C8R59"],
                                             description="GB 32100 unified social credit code")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NOT_BLANK,
                                      examples=["杭州示例科技有限公司"])]


class CertificateOrder(msgspec.Struct, forbid_unknown_fields=True):
    """What staff order over HTTP. `reference` makes issuing idempotent (the same reference answers the
    certificate issued the first time)."""

    authority_id: AuthorityId
    certificate_type: TypeCode
    holder: CitizenHolder | OrganisationHolder
    fields: dict[str, Any]
    valid_from: dt.date | None = None
    expires_on: Annotated[dt.date | None, msgspec.Meta(
        description="Last day of validity (China Standard Time); defaults to the type's usual validity")] = None
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None


class CertificateIssue(CertificateOrder, forbid_unknown_fields=True):
    """What to issue, from inside the service: also for a case (its decision)."""

    case_id: uuid.UUID | None = None


def staff_order(order: CertificateOrder) -> CertificateIssue:
    """A staff order as the registry takes it: the staff's reference kept apart from those the service gives
    what it issues itself (`case:<number>`, `pension-recognition:<id>`), which it can then never take."""
    fields = msgspec.structs.asdict(order)
    return CertificateIssue(**fields | {"reference": f"staff:{order.reference}" if order.reference else None})


class HolderView(msgspec.Struct):
    kind: Literal["citizen", "organisation"]
    name: str
    identifier: Annotated[str, msgspec.Meta(description="masked resident ID, or the full credit code")]


class CertificateView(msgspec.Struct):
    id: uuid.UUID
    number: str
    certificate_type: str
    type_name: str
    authority_id: str
    authority_name: str
    division_code: str
    holder: HolderView
    fields: dict[str, Any]
    issued_at: dt.datetime
    valid_from: dt.datetime
    expires_at: dt.datetime
    status: CertificateStatus
    kid: str
    revoked_at: dt.datetime | None = None
    revocation_reason: RevocationReason | None = None


class CertificateSummary(msgspec.Struct):
    id: uuid.UUID
    number: str
    certificate_type: str
    type_name: str
    authority_name: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    status: CertificateStatus


class QrCode(msgspec.Struct):
    number: str
    qr_text: Annotated[str, msgspec.Meta(description="`TB1:` + Base45; see docs/certificate-format.md")]
    expires_at: dt.datetime


class RevocationRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: RevocationReason
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=500, examples=["信息录入错误，已重新签发"],
                                      description="Kept internal; only `reason` is published")]


# -- verifying ------------------------------------------------------------------------------------

class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    qr_text: Annotated[str, msgspec.Meta(max_length=16384, description="The scanned text, `TB1:…`")]


class VerifiedIssuer(msgspec.Struct):
    id: str
    name: str
    division_code: str
    kid: str


class VerifiedCertificate(msgspec.Struct):
    number: str
    certificate_type: str
    type_name: str | None
    holder: HolderView
    fields: dict[str, Any]
    issued_at: dt.datetime
    valid_from: dt.datetime
    expires_at: dt.datetime


class Verification(msgspec.Struct, kw_only=True):
    """The answer of a verifier. `certificate` is present only once the signature has been checked."""

    valid: bool
    reason: Reason | None = None
    detail: str
    checked_at: dt.datetime
    issuer: VerifiedIssuer | None = None
    certificate: VerifiedCertificate | None = None
    revocation: Literal["not-revoked", "revoked", "unchecked", "list-outdated"] = "unchecked"
    warnings: list[str] = []


# -- consented checks (证明证照查验) ----------------------------------------------------------------

class ConsentCreate(msgspec.Struct, forbid_unknown_fields=True):
    relying_party: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NOT_BLANK,
                                               examples=["中国工商银行杭州分行"])]
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=64, description=(
        "Field names of the certificate type, plus `holder_name`, `holder_identifier`, `number`"))]
    valid_minutes: Annotated[int, msgspec.Meta(ge=1, le=30 * 24 * 60)] = 60
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    purpose: Annotated[str, msgspec.Meta(max_length=200, examples=["开立账户核验居住证"])] | None = None


ConsentStatus = Literal["active", "expired", "used-up", "withdrawn"]


class ConsentView(msgspec.Struct):
    id: uuid.UUID
    certificate_id: uuid.UUID
    relying_party: str
    scopes: list[str]
    purpose: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    max_uses: int
    uses: int
    status: ConsentStatus
    withdrawn_at: dt.datetime | None = None


class ConsentIssued(msgspec.Struct):
    consent: ConsentView
    token: Annotated[str, msgspec.Meta(description="Shown once; give it to the relying party")]


class CheckRequest(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=16, max_length=128)]
    presented_by: Annotated[str, msgspec.Meta(
        min_length=1, max_length=128, pattern=NOT_BLANK, examples=["工商银行杭州分行 柜员 0371"],
        description="Who is checking: organisation and operator, shown to the holder")]


class CheckAnswer(msgspec.Struct):
    """Only what the holder consented to, plus the certificate's standing."""

    certificate_type: str
    type_name: str
    authority_id: str
    authority_name: str
    status: CertificateStatus
    issued_at: dt.datetime
    expires_at: dt.datetime
    disclosed: dict[str, Any]
    uses_left: int
    checked_at: dt.datetime


class CheckRecord(msgspec.Struct):
    id: int
    certificate_id: uuid.UUID
    certificate_number: str
    consent_id: uuid.UUID
    relying_party: str
    presented_by: str
    client: str
    checked_at: dt.datetime
    outcome: Annotated[Literal["answered", "expired", "used-up", "withdrawn", "revoked", "key-withdrawn"], msgspec.Meta(
        description="`expired`, `used-up`, `withdrawn`: the consent; `revoked`, `key-withdrawn`: the certificate")]
    disclosed: list[str]


# -- types, authorities, keys ---------------------------------------------------------------------

class CertificateTypeView(msgspec.Struct):
    code: str
    name: str
    holder_kind: Literal["citizen", "organisation"]
    default_validity_days: int
    max_validity_days: int
    scopes: list[str]
    fields_schema: dict[str, Any]


class AuthorityCreate(msgspec.Struct, forbid_unknown_fields=True):
    id: AuthorityId
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=64, examples=["浙江省人力资源和社会保障厅"])]
    certificate_types: Annotated[list[TypeCode], msgspec.Meta(min_length=1)]


class AuthorityView(msgspec.Struct):
    id: str
    name: str
    division_code: str
    certificate_types: list[str]


class SigningKeyView(msgspec.Struct):
    """A signing key as operators see it; the private key is never part of it."""

    id: uuid.UUID
    kid: str
    purpose: Literal["certificate", "trust-anchor", "case-exchange"]
    authority_id: str | None
    status: KeyStatus | Literal["withdrawn"]
    created_at: dt.datetime
    activated_at: dt.datetime | None
    retired_at: dt.datetime | None
    last_expiry: dt.datetime | None
    province: str | None = None  # a case-exchange key's province
