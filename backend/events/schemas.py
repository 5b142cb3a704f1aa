"""Wire shapes of events, webhook subscribers and the delivery log. Secrets appear only in the answer
that creates or rotates them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.identifiers import PROVIDER_ID, DivisionCode

# Patterns end in `(?!\n)$` (see backend/identifiers.py).
SubscriberName = Annotated[str, msgspec.Meta(pattern=PROVIDER_ID,
                                             examples=["sc-pension-agency"])]
EventKind = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+(?!\n)$",
                                        max_length=100, examples=["pension.recognised"])]
KindPattern = Annotated[str, msgspec.Meta(
    pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)(?!\n)$", max_length=100,
    description="An event kind (`pension.recognised`), every kind under a prefix (`pension.*`), or `*`",
    examples=["pension.*"])]
# A host name of ASCII labels (or IPv4 digits; a name resolving to IPv6 addresses is fine), a port if any,
# then path, query and fragment: the URLs the worker's client can send to. No user information.
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
WebhookUrl = Annotated[str, msgspec.Meta(
    pattern=rf"^https?://(?:[A-Za-z0-9-]{{1,63}}\.)*[A-Za-z0-9-]{{1,63}}(?::{_PORT})?(?:[/?#][!-~]*)?(?!\n)$",
    max_length=2000, examples=["https://agency.example/tongban-events"])]
DeliveryStatus = Literal["pending", "delivered", "dead"]


class SubscriberCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: SubscriberName
    url: WebhookUrl
    kinds: Annotated[list[KindPattern], msgspec.Meta(min_length=1, max_length=50)]
    division: Annotated[DivisionCode, msgspec.Meta(
        description="Events of this division and the divisions below it are sent; `000000` for all")]


class SubscriberUpdate(msgspec.Struct, forbid_unknown_fields=True):
    url: WebhookUrl | None = None
    kinds: Annotated[list[KindPattern], msgspec.Meta(min_length=1, max_length=50)] | None = None
    active: Annotated[bool | None, msgspec.Meta(
        description="`false` pauses deliveries (they wait, nothing is dropped); `true` resumes them")] = None


class SubscriberView(msgspec.Struct):
    id: uuid.UUID
    name: str
    url: str
    kinds: list[str]
    division: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    previous_secret_until: dt.datetime | None = None
    pending: int = 0
    dead: int = 0


class SubscriberSecret(msgspec.Struct):
    """The subscriber and its signing secret, shown this once; only an encrypted copy is kept."""

    subscriber: SubscriberView
    secret: str


class Delivery(msgspec.Struct):
    """Where a subject's event was sent, as the person it concerns sees it: the subscribing agency and
    how it went (no URL, no attempts' detail)."""

    subscriber: str
    status: DeliveryStatus
    attempts: int
    delivered_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None


class DeliveryAttemptView(msgspec.Struct):
    attempt: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryView(msgspec.Struct):
    id: int
    event_id: uuid.UUID
    subscriber: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    log: list[DeliveryAttemptView] = msgspec.field(default_factory=list)


class EventView(msgspec.Struct):
    id: uuid.UUID
    kind: str
    subject_type: str
    subject_id: str
    division: str | None
    occurred_at: dt.datetime
    payload: dict[str, Any]
    deliveries: list[DeliveryView]


class EventEnvelope(msgspec.Struct):
    """The body of every webhook request."""

    id: str
    kind: str
    subject: dict[str, str]
    division: str | None
    occurred_at: str
    payload: dict[str, Any]


class JobView(msgspec.Struct):
    name: str
    interval_seconds: int
    next_run_at: dt.datetime
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    last_outcome: str | None
    last_summary: str | None
    runs: int


class EventsStatus(msgspec.Struct):
    """What the worker has in hand: deliveries waiting and dead, the oldest waiting, and the jobs."""

    pending: int
    dead: int
    oldest_pending_at: dt.datetime | None
    jobs: list[JobView]
