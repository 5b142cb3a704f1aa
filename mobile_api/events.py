"""Events for other systems over HTTP: admins register webhook subscribers, read the delivery log of a
subject, and send dead deliveries again."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from backend.actors import Actor
from backend.container import Services
from backend.events.schemas import (
    DeliveryStatus,
    DeliveryView,
    EventsStatus,
    EventView,
    SubscriberCreate,
    SubscriberSecret,
    SubscriberUpdate,
    SubscriberView,
)
from mobile_api.context import staff_guard
from mobile_api.identity import BEARER

SUBJECT_TYPE = Parameter(pattern=r"^[a-z][a-z0-9_]{0,63}(?!\n)$", description="What the events are about, e.g. "
                         "`pension_roster_entry`")
DELIVERY_ID = Parameter(ge=1, le=2**63 - 1, description="The delivery's id")
SUBJECT_ID = Parameter(min_length=1, max_length=128, description="Its id")


class WebhookSubscriberController(Controller):
    path = "/admin/webhook-subscribers"
    tags = ["events"]
    guards = [staff_guard("admin")]
    security = BEARER

    @post("/", operation_id="createWebhookSubscriber", summary="Register a webhook subscriber",
          description="An admin registers a receiver for the event kinds it wants, for events of a division inside "
                      "their own. The answer holds the signing secret, shown this once (so this call is not replayed "
                      "by Idempotency-Key; a repeated name is refused with 409). Audited.")
    async def create(self, data: JSONBody[SubscriberCreate], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> SubscriberSecret:
        return await services.events.create_subscriber(data, actor)

    @get("/", operation_id="listWebhookSubscribers", summary="Webhook subscribers",
         description="Subscribers in the caller's division, with deliveries pending and dead.")
    async def list_subscribers(self, services: NamedDependency[Services],
                               actor: NamedDependency[Actor]) -> list[SubscriberView]:
        return await services.events.list_subscribers(actor)

    @get("/{subscriber_id:uuid}", operation_id="getWebhookSubscriber", summary="A webhook subscriber",
         description="Its URL, kinds, division, whether it is paused, and its deliveries pending and dead.")
    async def get_subscriber(self, subscriber_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                             actor: NamedDependency[Actor]) -> SubscriberView:
        return await services.events.get_subscriber(actor, subscriber_id)

    @patch("/{subscriber_id:uuid}", operation_id="updateWebhookSubscriber", summary="Change a webhook subscriber",
           description="URL, kinds, or `active` (`false` pauses: deliveries wait, nothing is dropped). Audited.")
    async def update(self, subscriber_id: FromPath[uuid.UUID], data: JSONBody[SubscriberUpdate],
                     services: NamedDependency[Services], actor: NamedDependency[Actor]) -> SubscriberView:
        return await services.events.update_subscriber(actor, subscriber_id, data)

    @post("/{subscriber_id:uuid}/secret-rotation", operation_id="rotateWebhookSecret",
          summary="Rotate a subscriber's signing secret",
          description="A new secret, shown this once; the old one keeps signing (as a second `webhook-signature`) "
                      "for 24 hours so the receiver can switch without a gap. Audited.", status_code=200)
    async def rotate(self, subscriber_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> SubscriberSecret:
        return await services.events.rotate_secret(actor, subscriber_id)

    @post("/{subscriber_id:uuid}/redelivery", operation_id="redeliverSubscriberDeadLetters",
          summary="Send a subscriber's dead deliveries again",
          description="Every dead delivery of the subscriber becomes due now, with a fresh count of attempts. "
                      "Returns their ids. Audited.", status_code=200)
    async def redeliver(self, subscriber_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> list[int]:
        return await services.events.redeliver(actor, subscriber_id=subscriber_id)

    @delete("/{subscriber_id:uuid}", operation_id="deleteWebhookSubscriber", summary="Remove a webhook subscriber",
            description="Removes it with its deliveries, sent or not (to keep them, pause it instead). Audited.")
    async def remove(self, subscriber_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> None:
        await services.events.delete_subscriber(actor, subscriber_id)


class EventLogController(Controller):
    path = "/admin"
    tags = ["events"]
    guards = [staff_guard("admin")]
    security = BEARER

    @get("/events", operation_id="listSubjectEvents", summary="Where a subject's events went",
         description="The delivery log of one subject: each event (newest first) with each subscriber's delivery, "
                     "status and every attempt. Only events of the caller's division. Audited.")
    async def subject_events(self, subject_type: Annotated[str, SUBJECT_TYPE], subject_id: Annotated[str, SUBJECT_ID],
                             services: NamedDependency[Services], actor: NamedDependency[Actor]) -> list[EventView]:
        return await services.events.subject_log(actor, subject_type, subject_id)

    @get("/event-deliveries", operation_id="listEventDeliveries", summary="Event deliveries",
         description="Newest first, optionally only those of one status (`dead` lists the dead letters) or one "
                     "subscriber, for subscribers in the caller's division.")
    async def deliveries(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                         status: FromQuery[DeliveryStatus | None] = None,
                         subscriber_id: FromQuery[uuid.UUID | None] = None,
                         limit: Annotated[int, Parameter(ge=1, le=1000)] = 100) -> list[DeliveryView]:
        return await services.events.deliveries(actor, status=status, subscriber_id=subscriber_id, limit=limit)

    @post("/event-deliveries/{delivery_id:int}/redelivery", operation_id="redeliverEventDelivery",
          summary="Send a dead delivery again", description="It becomes due now with a fresh count of attempts. "
          "Audited.", status_code=200)
    async def redeliver(self, delivery_id: Annotated[int, DELIVERY_ID], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> list[int]:
        return await services.events.redeliver(actor, delivery_id=delivery_id)

    @get("/events/status", operation_id="getEventsStatus", summary="Deliveries waiting and dead, scheduled jobs",
         description="What the workers have in hand, and each scheduled job's last run.")
    async def status(self, services: NamedDependency[Services]) -> EventsStatus:
        return await services.events.status()


EVENT_CONTROLLERS = [WebhookSubscriberController, EventLogController]
