"""Wire shapes of the service catalogue: the item standard (事项标准) with its ten elements, lists and
their versions, local variants, receipt standards, resolution, search and FAQ."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import msgspec

from backend.identifiers import ITEM_CODE, LIST_CODE, TYPE_CODE, DivisionCode, ProvinceCode

# -- vocabulary ----------------------------------------------------------------------------------

Mode = Literal["online", "proxy", "joint"]
MODE_NAMES: dict[str, str] = {"online": "全程网办", "proxy": "异地代收代办", "joint": "多地联办"}
ItemType = Literal["行政许可", "行政给付", "行政确认", "公共服务", "其他"]
# The type segment of an item code (`RS-20-001-00`) for each item type.
TYPE_CODES: dict[str, str] = {"行政许可": "01", "行政给付": "05", "行政确认": "07", "公共服务": "20", "其他": "99"}
Target = Literal["individual", "organisation"]
MaterialForm = Literal["original", "copy", "electronic"]
# What the receiving place does with a material of each form.
FORM_CHECKS: dict[str, str] = {
    "original": "核验原件后退还",
    "copy": "收取复印件并核对原件",
    "electronic": "核验电子材料或通过数据共享获取",
}
StepActor = Literal["applicant", "receiving_place", "handling_place", "system"]
ResultKind = Literal["certificate", "document", "record_update"]
ListKind = Literal["national", "regional"]
ListState = Literal["draft", "published", "superseded", "withdrawn"]

ItemCode = Annotated[str, msgspec.Meta(pattern=ITEM_CODE, description="Item code",
                                       examples=["RS-20-001-00"])]
ListCode = Annotated[str, msgspec.Meta(pattern=LIST_CODE, examples=["national-2022"])]
CertificateType = Annotated[str, msgspec.Meta(pattern=TYPE_CODE, examples=["id_card"])]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128, examples=["企业职工基本养老保险关系转移接续"])]


class ModeView(msgspec.Struct):
    """A mode with its Chinese name, as shown to people."""

    code: Mode
    name: str


def mode_views(modes: Iterable[str]) -> list[ModeView]:
    """Modes in their fixed order (online, proxy, joint), each once, with their Chinese names."""
    order = list(MODE_NAMES)
    return [ModeView(m, MODE_NAMES[m]) for m in sorted(set(modes), key=order.index)]  # type: ignore[arg-type]


def mode_names(modes: Iterable[str]) -> str:
    """Modes for a message: `全程网办 (online), 异地代收代办 (proxy)`."""
    return ", ".join(f"{v.name} ({v.code})" for v in mode_views(modes))


# -- the item standard: ten elements plus modes, frequency and form schema -----------------------

class LegalBasis(msgspec.Struct, forbid_unknown_fields=True):
    """设定依据: a law or regulation, and the provision where it is well established."""

    title: ShortText
    provision: ShortText | None = None


class Department(msgspec.Struct, forbid_unknown_fields=True):
    national: ShortText
    handling: ShortText


class ProcessStep(msgspec.Struct, forbid_unknown_fields=True):
    step: Annotated[int, msgspec.Meta(ge=1, le=50)]
    name: ShortText
    actor: StepActor
    description: LongText


class Material(msgspec.Struct, forbid_unknown_fields=True):
    """申请材料: one material, its form and count, and which certificate types may replace it."""

    name: ShortText
    form: MaterialForm
    count: Annotated[int, msgspec.Meta(ge=1, le=99)]
    required: bool
    replaceable_by: list[CertificateType] = []
    note: LongText | None = None


class TimeLimit(msgspec.Struct, forbid_unknown_fields=True):
    """办结时限: the promised working days (0 = on the spot) and the legal limit as written."""

    working_days: Annotated[int, msgspec.Meta(ge=0, le=365)]
    legal: ShortText | None = None


class Result(msgspec.Struct, forbid_unknown_fields=True):
    """办理结果, and the e-certificate type the item issues, if any."""

    name: ShortText
    kind: ResultKind
    e_certificate_type: CertificateType | None = None


class ItemStandard(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An item's standard: the ten elements (name, code, basis, type, conditions, targets, process,
    materials, time limit, result) plus department, modes, frequency and the application form schema."""

    code: ItemCode
    name: Name
    aliases: list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]] = []
    basis: Annotated[list[LegalBasis], msgspec.Meta(min_length=1)]
    type: ItemType
    targets: Annotated[list[Target], msgspec.Meta(min_length=1)]
    department: Department
    conditions: Annotated[list[LongText], msgspec.Meta(min_length=1)]
    process: Annotated[list[ProcessStep], msgspec.Meta(min_length=1)]
    materials: list[Material]
    time_limit: TimeLimit
    result: Result
    modes: Annotated[list[Mode], msgspec.Meta(min_length=1)]
    frequency: Annotated[int, msgspec.Meta(ge=0, le=100, description="0–100: how often people need it")]
    form_schema: dict[str, Any] = {}


# The ten standard elements and their Chinese names, in the policy's order.
ELEMENTS: dict[str, str] = {
    "name": "事项名称", "code": "事项编码", "basis": "设定依据", "type": "事项类型", "conditions": "受理条件",
    "targets": "服务对象", "process": "办理流程", "materials": "申请材料", "time_limit": "办结时限",
    "result": "办理结果",
}


class ItemSummary(msgspec.Struct):
    code: str
    name: str
    type: str
    department: str
    modes: list[ModeView]
    frequency: int
    sample: bool


class ItemView(msgspec.Struct, kw_only=True):
    """An item's current standard, as published."""

    code: str
    name: str
    aliases: list[str]
    basis: list[LegalBasis]
    type: str
    targets: list[str]
    department: Department
    conditions: list[str]
    process: list[ProcessStep]
    materials: list[Material]
    time_limit: TimeLimit
    result: Result
    modes: list[ModeView]
    frequency: int
    form_schema: dict[str, Any]
    revision: int
    variants: list[str]
    sample: bool
    elements: dict[str, str] = msgspec.field(default_factory=lambda: dict(ELEMENTS))


class ItemPage(msgspec.Struct):
    items: list[ItemSummary]
    total: int
    sample: bool


# -- lists -----------------------------------------------------------------------------------------

class ListEntryInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    item_code: ItemCode
    modes: Annotated[list[Mode], msgspec.Meta(min_length=1, max_length=3)]
    available_by: dt.date | None = None
    note: ShortText | None = None


class ListContent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What an admin writes into a draft version."""

    name: ShortText
    issuer: ShortText | None = None
    document: ShortText | None = None
    note: LongText | None = None
    # Bounds far above any real list (34 provincial divisions exist; national batches list items by the
    # dozen), so that the size of a request, not what it names, bounds the work it costs.
    members: Annotated[list[ProvinceCode], msgspec.Meta(max_length=34)] | None = None
    entries: Annotated[list[ListEntryInput], msgspec.Meta(max_length=500)] = []


class ListCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new list and its first draft version."""

    code: ListCode
    kind: ListKind
    content: ListContent


class DraftCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new draft version: a copy of the latest version unless `content` is given."""

    content: ListContent | None = None


class Publication(msgspec.Struct, forbid_unknown_fields=True):
    effective_date: Annotated[dt.date, msgspec.Meta(description="First day the version is in force (China time)")]


class Withdrawal(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: ShortText
    effective_until: dt.date | None = None


class ListEntryView(msgspec.Struct, omit_defaults=False):
    item_code: str
    item_name: str
    modes: list[ModeView]
    available_by: dt.date | None
    note: str | None


class ListVersionView(msgspec.Struct, kw_only=True):
    list_code: str
    kind: ListKind
    version: int
    state: ListState
    name: str
    issuer: str | None
    document: str | None
    note: str | None
    members: list[str] | None
    published_on: dt.date | None
    effective_date: dt.date | None
    effective_until: dt.date | None
    supersedes: int | None
    withdrawal_reason: str | None
    entries: list[ListEntryView]
    sample: bool


class ListVersionSummary(msgspec.Struct, kw_only=True):
    version: int
    state: ListState
    published_on: dt.date | None
    effective_date: dt.date | None
    effective_until: dt.date | None
    entries: int


class ListView(msgspec.Struct, kw_only=True):
    code: str
    kind: ListKind
    name: str
    members: list[str] | None
    in_force_version: int | None
    versions: list[ListVersionSummary]
    sample: bool


class ListEvent(msgspec.Struct):
    version: int
    action: str
    at: dt.datetime
    actor_kind: str
    actor_division: str | None
    detail: dict[str, Any]


class ListHistory(msgspec.Struct):
    list_code: str
    events: list[ListEvent]


class EntryChange(msgspec.Struct, omit_defaults=True):
    item_code: str
    item_name: str
    modes_added: list[str] = []
    modes_removed: list[str] = []
    available_by: list[dt.date | None] = []
    note: list[str | None] = []


class FieldChange(msgspec.Struct):
    field: str
    old: Any
    new: Any


class ListDiff(msgspec.Struct, kw_only=True):
    list_code: str
    from_version: int
    to_version: int
    fields: list[FieldChange]
    members_added: list[str]
    members_removed: list[str]
    entries_added: list[ListEntryView]
    entries_removed: list[ListEntryView]
    entries_changed: list[EntryChange]


# -- resolution and receipt standards ---------------------------------------------------------------

class DivisionView(msgspec.Struct):
    code: str
    name: str | None
    level: str
    province: str
    province_name: str | None


class ResolutionSource(msgspec.Struct):
    list_code: str
    version: int
    kind: ListKind
    modes: list[Mode]
    available_by: dt.date | None
    # Provinces must offer the entry by `available_by`; before then it may not be offered yet.
    guaranteed: bool


class ResolvedItem(msgspec.Struct, kw_only=True):
    code: str
    name: str
    type: str
    frequency: int
    # Offered now: a list's entry past its deadline (or without one) offers it, and the standard that
    # governs the matter (the matter province's variant in force, else the national one) supports it.
    modes: list[ModeView]
    # Listed, supported, but no entry's deadline has come yet: provinces may not offer it yet.
    upcoming_modes: list[ModeView]
    # Listed, but the governing standard does not support it: not offered.
    unsupported_modes: list[ModeView]
    sources: list[ResolutionSource]
    local_variant: int | None
    sample: bool


class Resolution(msgspec.Struct, kw_only=True):
    """Which items a person whose matter belongs to `matter_division` can handle at `at_division`."""

    matter_division: DivisionView
    at_division: DivisionView
    as_of: dt.date
    cross_province: bool
    items: list[ResolvedItem]
    sample: bool


class CertificateRef(msgspec.Struct):
    code: str
    name: str | None


class ReceiptMaterial(msgspec.Struct, kw_only=True):
    name: str
    form: MaterialForm
    check: str
    count: int
    required: bool
    replaceable_by: list[CertificateRef]
    note: str | None
    # `national`: as in the national standard; `local`: added or changed by the local variant.
    origin: Literal["national", "local"]


class Difference(msgspec.Struct):
    """One field where a local variant departs from the national standard."""

    path: str
    change: Literal["changed", "added", "removed"]
    summary: str
    national: Any = None
    local: Any = None


class VariantRef(msgspec.Struct):
    division: str
    division_name: str | None
    version: int
    effective_date: dt.date


class ReceiptStandard(msgspec.Struct, kw_only=True):
    """收件标准: exactly what the receiving place checks for this item."""

    item_code: str
    item_name: str
    receiving_division: DivisionView
    handling_division: DivisionView
    as_of: dt.date
    governing_variant: VariantRef | None
    conditions: list[str]
    materials: list[ReceiptMaterial]
    not_required_locally: list[str]
    differences: list[Difference]
    other_variants: list[VariantRef]
    time_limit: TimeLimit
    # The result a case here ends with (the governing standard's: a local variant may issue another).
    result: Result
    form_schema: dict[str, Any]
    sample: bool


class VariantCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    division: ProvinceCode
    effective_date: dt.date
    standard: ItemStandard


class VariantView(msgspec.Struct, kw_only=True):
    item_code: str
    division: str
    division_name: str | None
    version: int
    effective_date: dt.date
    effective_until: dt.date | None
    standard: ItemStandard
    differences: list[Difference]
    sample: bool


class VariantSummary(msgspec.Struct, kw_only=True):
    division: str
    division_name: str | None
    version: int
    effective_date: dt.date
    effective_until: dt.date | None
    differences: int
    sample: bool


# -- forms ----------------------------------------------------------------------------------------------

class FormCheck(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    form: dict[str, Any]
    handling_division: DivisionCode | None = None


class FormProblem(msgspec.Struct):
    pointer: str
    detail: str


class FormCheckResult(msgspec.Struct):
    item_code: str
    valid: bool
    errors: list[FormProblem]
    schema_from: str


# -- search, FAQ, ask ---------------------------------------------------------------------------------------

class SearchHit(msgspec.Struct, kw_only=True):
    code: str
    name: str
    type: str
    modes: list[ModeView]
    frequency: int
    match: Literal["exact_name", "exact_alias", "name", "alias", "partial", "other"]
    sample: bool


class FaqItemRef(msgspec.Struct):
    code: str
    name: str
    modes: list[ModeView]


class FaqView(msgspec.Struct, kw_only=True):
    id: str
    question: str
    answer: str
    items: list[FaqItemRef]
    sample: bool


class FaqHit(msgspec.Struct, kw_only=True):
    id: str
    question: str
    answer: str
    items: list[FaqItemRef]
    score: float
    sample: bool


class SearchResult(msgspec.Struct, kw_only=True):
    query: str
    # How the query was read: each part with the alternatives searched for it.
    interpreted_as: list[list[str]]
    relaxed: bool
    items: list[SearchHit]
    faq: list[FaqHit]
    sample: bool


class Answer(msgspec.Struct, kw_only=True):
    question: str
    answers: list[FaqHit]
    suggested_items: list[SearchHit]
    sample: bool


class FaqInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    question: Annotated[str, msgspec.Meta(min_length=2, max_length=200)]
    answer: Annotated[str, msgspec.Meta(min_length=2, max_length=4000)]
    item_codes: Annotated[list[ItemCode], msgspec.Meta(max_length=20)] = []
