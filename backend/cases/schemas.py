"""Wire shapes of cross-province cases (办件): applying, the citizen's and staff's views, the actions
staff and citizens take (one tagged union: the `action` names a row of the state table), liaison
messages, coordination tasks and the result-authority mapping."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.catalogue.schemas import DivisionCode, DivisionView, ItemCode, Mode, ModeView
from backend.certificates.schemas import AuthorityId
from backend.identifiers import VISIBLE
from backend.sharing.schemas import RequestState

CaseState = Literal[
    "submitted", "received", "refused", "handed_over", "accepted", "in_review", "supplement_requested",
    "supplemented", "approved", "result_sent", "rejected", "delivered", "closed", "withdrawn",
]
# What the citizen reads for each state.
STATE_NAMES: dict[str, str] = {
    "submitted": "已提交", "received": "已收件", "refused": "不予受理", "handed_over": "已流转至办理地",
    "accepted": "已受理", "in_review": "审查中", "supplement_requested": "待补正", "supplemented": "已补正",
    "approved": "准予办理", "result_sent": "办理结果已寄往收件地", "rejected": "不予办理", "delivered": "已送达",
    "closed": "已办结", "withdrawn": "已撤回",
}
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=VISIBLE)]
Reasons = Annotated[list[Reason], msgspec.Meta(min_length=1, max_length=20)]
MaterialName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class GivenMaterial(msgspec.Struct, forbid_unknown_fields=True):
    """One material of the receipt standard, by its name: an uploaded material (`POST /me/materials`) or
    one of the applicant's own e-certificates of a type the standard says may replace it."""

    name: MaterialName
    material_id: uuid.UUID | None = None
    certificate_id: uuid.UUID | None = None


class CaseApplication(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Apply for an item: received at `receiving_division`, decided at `handling_division`, in a mode
    offered there on that day."""

    item_code: ItemCode
    receiving_division: DivisionCode
    handling_division: DivisionCode
    mode: Mode
    form: dict[str, Any]
    materials: Annotated[list[GivenMaterial], msgspec.Meta(max_length=50)] = []


class TimelineStep(msgspec.Struct):
    """One step of a case: what happened, when, where — never who (no staff personal data)."""

    step: str
    state: str
    state_name: str
    at: dt.datetime
    division: str | None
    division_name: str | None


class CaseMaterialView(msgspec.Struct):
    id: uuid.UUID
    name: str
    source: Literal["upload", "certificate"]
    material_id: uuid.UUID | None
    certificate_id: uuid.UUID | None
    state: str
    digest: str


class SupplementItem(msgspec.Struct, forbid_unknown_fields=True):
    """One material a 补正 asks for: missing (named by the receipt standard) or wrong, with the reason."""

    material: MaterialName
    reason: Reason


class SupplementRequestView(msgspec.Struct):
    id: uuid.UUID
    round: int
    items: list[SupplementItem]
    requested_at: dt.datetime
    answered_at: dt.datetime | None


class Decision(msgspec.Struct):
    outcome: Literal["approved", "rejected"]
    reasons: list[str]
    decided_at: dt.datetime


class Delivery(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    method: Literal["e_certificate", "post", "window"]
    tracking_number: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{6,40}(?!\n)$")] | None = None
    window: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class AskedNow(msgspec.Struct):
    """What the case waits for from the applicant, if anything."""

    action: Literal["supplement", "collect", "none"]
    detail: str
    supplement_request: SupplementRequestView | None = None


class Deadline(msgspec.Struct):
    due_on: dt.date | None
    working_days: int
    paused: bool
    calendar_estimated: bool


class CaseSummary(msgspec.Struct):
    id: uuid.UUID
    number: str
    item_code: str
    item_name: str
    mode: ModeView
    state: CaseState
    state_name: str
    receiving_division: str
    handling_division: str
    deadline: Deadline
    created_at: dt.datetime
    updated_at: dt.datetime


class CaseView(msgspec.Struct, kw_only=True):
    """A case as its applicant sees it."""

    id: uuid.UUID
    number: str
    item_code: str
    item_name: str
    mode: ModeView
    state: CaseState
    state_name: str
    receiving_division: DivisionView
    handling_division: DivisionView
    form: dict[str, Any]
    materials: list[CaseMaterialView]
    timeline: list[TimelineStep]
    asked_now: AskedNow
    deadline: Deadline
    supplement_count: int
    supplement_requests: list[SupplementRequestView]
    decision: Decision | None
    certificate_id: uuid.UUID | None
    delivery: Delivery | None
    allowed_actions: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime


class MessageView(msgspec.Struct):
    id: uuid.UUID
    division: str
    role: str
    body: str
    created_at: dt.datetime


class TaskView(msgspec.Struct):
    id: uuid.UUID
    division: str
    state: Annotated[Literal["open", "done", "cancelled"], msgspec.Meta(
        description="`cancelled`: the case was withdrawn before the task was done")]
    request: str | None
    note: str | None
    opened_at: dt.datetime
    done_at: dt.datetime | None


class Applicant(msgspec.Struct):
    name: str
    resident_id_masked: str


class CaseDataRequest(msgspec.Struct):
    """A data request made for the case through the data-sharing gateway by a division within yours. The
    request whole, with the evidence once the citizen accepted, is at `GET /staff/data-requests/{id}`."""

    id: uuid.UUID
    provider: str
    purpose: str
    state: RequestState
    division: Annotated[str, msgspec.Meta(description="the requesting division")]
    created_at: dt.datetime


class StaffCaseView(CaseView, kw_only=True):
    """A case as staff in scope see it: the applicant (masked), liaison messages, coordination tasks, and
    the data requests your divisions made for it."""

    applicant: Applicant
    messages: list[MessageView]
    tasks: list[TaskView]
    data_requests: list[CaseDataRequest]
    version: int


class CasePage(msgspec.Struct):
    items: list[CaseSummary]
    total: int


# -- actions: each names a row of the state table ---------------------------------------------------

class Receive(msgspec.Struct, tag_field="action", tag="receive", forbid_unknown_fields=True):
    """收件: the materials were checked against the receipt standard."""

    note: Reason | None = None


class RefuseReceipt(msgspec.Struct, tag_field="action", tag="refuse_receipt", forbid_unknown_fields=True):
    reasons: Reasons


class HandOver(msgspec.Struct, tag_field="action", tag="hand_over", forbid_unknown_fields=True):
    note: Reason | None = None


class Accept(msgspec.Struct, tag_field="action", tag="accept", forbid_unknown_fields=True):
    """受理. In 多地联办, a coordination task opens for each other division involved: those named here,
    else the receiving division."""

    coordinating_divisions: Annotated[list[DivisionCode], msgspec.Meta(max_length=10)] = []
    coordination_request: Reason | None = None


class Refuse(msgspec.Struct, tag_field="action", tag="refuse", forbid_unknown_fields=True):
    reasons: Reasons


class StartReview(msgspec.Struct, tag_field="action", tag="start_review", forbid_unknown_fields=True):
    pass


class RequestSupplement(msgspec.Struct, tag_field="action", tag="request_supplement", forbid_unknown_fields=True):
    """补正, once and complete: every missing or wrong material with its reason. Every material given and
    not named here is accepted with this request, and cannot be asked about again."""

    items: Annotated[list[SupplementItem], msgspec.Meta(min_length=1, max_length=50)]


class Approve(msgspec.Struct, tag_field="action", tag="approve", forbid_unknown_fields=True):
    """准予. When the item's result is an e-certificate, `certificate_fields` are its type's fields."""

    reasons: Annotated[list[Reason], msgspec.Meta(max_length=20)] = []
    certificate_fields: dict[str, Any] | None = None


class Reject(msgspec.Struct, tag_field="action", tag="reject", forbid_unknown_fields=True):
    reasons: Reasons


class Deliver(msgspec.Struct, tag_field="action", tag="deliver", forbid_unknown_fields=True):
    delivery: Delivery


class SendResult(msgspec.Struct, tag_field="action", tag="send_result", forbid_unknown_fields=True):
    """The handling place sends an approved result to the receiving place, which gives it to the
    applicant (`deliver` there): proxy and joint cases; signed like a hand-over."""

    note: Reason | None = None


class Close(msgspec.Struct, tag_field="action", tag="close", forbid_unknown_fields=True):
    pass


StaffAction = Receive | RefuseReceipt | HandOver | Accept | Refuse | StartReview | RequestSupplement | Approve \
    | Reject | SendResult | Deliver | Close


class SupplementAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """The whole answer to the open 补正 request, in one submission: a material for every item."""

    materials: Annotated[list[GivenMaterial], msgspec.Meta(min_length=1, max_length=50)]


class Withdrawal(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason | None = None


class MessageCreate(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=VISIBLE)]


class TaskCompletion(msgspec.Struct, forbid_unknown_fields=True):
    note: Reason


class ResultAuthority(msgspec.Struct, forbid_unknown_fields=True):
    """Which issuing authority signs `item_code`'s e-certificate for cases handled within `division_code`."""

    item_code: ItemCode
    division_code: DivisionCode
    authority_id: AuthorityId


class DueCase(msgspec.Struct):
    id: uuid.UUID
    number: str
    item_name: str
    state: str
    handling_division: str
    due_on: dt.date
    overdue: bool
    calendar_estimated: bool


class DueList(msgspec.Struct):
    division: str
    as_of: dt.date
    overdue: list[DueCase]
    due_soon: list[DueCase]


class TransitionView(msgspec.Struct):
    """One row of the state table."""

    from_state: str
    action: str
    to_state: str
    roles: list[str]
    modes: list[str]


class MaterialView(msgspec.Struct):
    """An uploaded material of the citizen's (the bytes as kept: metadata removed)."""

    id: uuid.UUID
    name: str
    kind: str | None
    content_type: str
    size: int
    digest: str
    created_at: dt.datetime
