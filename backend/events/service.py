"""Events for other systems (五(一) system docking): publishing in the caller's transaction, webhook
subscribers and their secrets, the delivery log, and dead-letter redelivery.

A domain reports a change with `await services.events.publish(conn, kind=..., subject_type=...,
subject_id=..., division=..., payload=...)` inside the transaction that makes the change: the event,
and one delivery per matching subscriber, commit with it or not at all. `tongban worker` sends them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.config import Settings
from backend.db import Database, send_waiting_writes, write_later
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.events import repository, signing, targets
from backend.events.schemas import (
    Delivery,
    DeliveryAttemptView,
    DeliveryStatus,
    DeliveryView,
    EventsStatus,
    EventView,
    JobView,
    SubscriberCreate,
    SubscriberSecret,
    SubscriberUpdate,
    SubscriberView,
)
from backend.identity import divisions
from backend.security.pii import PiiCipher
from backend.security.reach import reachable

log = logging.getLogger("tongban.events")

SECRET_PURPOSE = "webhook.secret"
# After a rotation the old secret keeps signing this long, so a receiver can switch without a gap.
ROTATION_OVERLAP = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Event:
    """One event to publish (for `publish_many`)."""

    kind: str
    subject_type: str
    subject_id: str
    division: str | None
    payload: Any
    id: uuid.UUID | None = None  # chosen by the caller when it must name the event before it is written


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How the worker delivers, from the settings."""

    max_attempts: int = 15
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 3600.0
    http_timeout_seconds: float = 10.0
    lease_seconds: float = 60.0
    batch: int = 100
    concurrency: int = 16
    poll_seconds: float = 1.0
    retention_days: int = 400
    refuse_private_targets: bool = False  # see backend/events/targets.py
    private_networks: tuple[targets.Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        refuse = settings.events_refuse_private_targets
        return cls(max_attempts=settings.events_max_attempts, retry_base_seconds=settings.events_retry_base_seconds,
                   retry_max_seconds=settings.events_retry_max_seconds,
                   http_timeout_seconds=settings.events_http_timeout_seconds,
                   lease_seconds=settings.events_lease_seconds, batch=settings.events_batch,
                   concurrency=settings.events_concurrency, poll_seconds=settings.events_poll_seconds,
                   retention_days=settings.events_retention_days,
                   refuse_private_targets=settings.is_production if refuse is None else refuse,
                   private_networks=targets.parse_networks(settings.events_private_networks))


def _payload(payload: Any) -> Any:
    """Plain JSON values (dates, UUIDs and Structs as msgspec writes them)."""
    return msgspec.to_builtins(payload)


def _check_event(kind: str, subject_type: str, subject_id: str, division: str | None) -> None:
    """Programming errors, not user input: an event that does not fit the table is refused loudly."""
    if division is not None:
        divisions.check_division(division)
    if not subject_id or len(subject_id) > 128:
        raise ValueError("an event's subject_id is 1–128 characters")


def _subscriber_view(row: asyncpg.Record) -> SubscriberView:
    return SubscriberView(
        id=row["id"], name=row["name"], url=row["url"], kinds=list(row["kinds"]), division=row["division"],
        active=row["active"], created_at=row["created_at"], updated_at=row["updated_at"],
        previous_secret_until=row["previous_secret_until"], pending=row["pending"], dead=row["dead"])


def _delivery_view(row: asyncpg.Record, log: list[DeliveryAttemptView] | None = None) -> DeliveryView:
    return DeliveryView(
        id=row["id"], event_id=row["event_id"], subscriber=row["subscriber"], status=row["status"],
        attempts=row["attempts"], next_attempt_at=row["next_attempt_at"], last_attempt_at=row["last_attempt_at"],
        last_status=row["last_status"], last_error=row["last_error"], delivered_at=row["delivered_at"],
        log=log or [])


def _check_url(url: str, *, production: bool) -> str:
    try:  # as the worker's client will read it, and as the address check splits it
        parts, host = urlsplit(url), httpx.URL(url).host
        _ = parts.port
        (parts.hostname or "").encode("idna")  # as the resolver will: no empty label, none over 63 characters
    except (ValueError, httpx.InvalidURL) as exc:  # a port out of range, a bracket unclosed, an empty label
        raise ValidationFailed.field("url", f"not a URL a request can be sent to: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not host:
        raise ValidationFailed.field("url", "an http(s) URL with a host")
    if production and parts.scheme != "https":
        raise ValidationFailed.field("url", "production mode sends events over https only")
    if parts.username or parts.password:
        raise ValidationFailed.field("url", "credentials do not belong in the URL; deliveries are signed instead")
    return url


class WorkerWakeUp:
    """Wakes idle workers (`NOTIFY`) once events have committed, from outside the events' transactions:
    a transaction that notifies takes a database-wide lock that it holds through its commit, so
    notifying inside them would queue every publishing transaction behind the one before. One NOTIFY
    is in flight at a time; whatever commits meanwhile rides on the next."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sending: asyncio.Task[None] | None = None
        self._again = False

    def soon(self) -> None:
        if self._sending is not None and not self._sending.done():
            self._again = True
            return
        self._sending = asyncio.get_running_loop().create_task(self._send(), name="wake-workers")

    async def _send(self) -> None:
        while True:
            self._again = False
            try:
                async with self._db.connection() as conn:
                    await repository.notify_workers(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Workers poll for due work anyway; a lost wake-up only delays a delivery.
                log.warning("could not wake the workers: %s", exc)
                return
            if not self._again:
                return


class EventService:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher, policy: DeliveryPolicy, *,
                 production: bool = False) -> None:
        self.db, self.audit, self.cipher, self.policy, self.production = db, audit, cipher, policy, production
        self.wake_up = WorkerWakeUp(db)

    async def _check_target(self, url: str) -> None:
        """Refuse a URL the worker may not post to (see `targets`), at the field."""
        if not self.policy.refuse_private_targets:
            return
        try:
            await targets.allowed_addresses(url, self.policy.private_networks)
        except targets.TargetRefused as exc:
            raise ValidationFailed.field("url", f"{exc}: events go to public addresses only, or to networks listed "
                                                "in TONGBAN_EVENTS_PRIVATE_NETWORKS") from None

    # -- publishing (other domains) ----------------------------------------------------------------

    async def publish(self, conn: asyncpg.Connection, *, kind: str, subject_type: str, subject_id: str,
                      division: str | None = None, payload: Any = None) -> uuid.UUID:
        """Record an event in the caller's transaction (sent with its next statement, `write_later`); it is
        delivered once that commits. Returns its id, which every delivery carries (`webhook-id`) for
        receivers to de-duplicate on."""
        _check_event(kind, subject_type, subject_id, division)
        event_id = uuid.uuid4()
        await write_later(conn, *repository.insert_event(event_id, kind, subject_type, subject_id, division,
                                                         _payload(payload if payload is not None else {})))
        await self.db.after_commit(self.wake_up.soon)
        return event_id

    async def publish_many(self, conn: asyncpg.Connection, events: Sequence[Event]) -> list[uuid.UUID]:
        """Many events in one statement, in the caller's transaction (for bulk jobs); their ids, in order."""
        for event in events:
            _check_event(event.kind, event.subject_type, event.subject_id, event.division)
        ids = [e.id or uuid.uuid4() for e in events]
        await repository.insert_events(conn, [
            (event_id, e.kind, e.subject_type, e.subject_id, e.division,
             _payload(e.payload if e.payload is not None else {})) for event_id, e in zip(ids, events, strict=True)])
        if ids:
            await self.db.after_commit(self.wake_up.soon)
        return ids

    async def delivery_log(self, conn: asyncpg.Connection, subject_type: str, subject_id: str) -> list[EventView]:
        """Where the subject's events went and when, newest first, for another domain to show (the
        caller audits the read). Subscriber URLs and secrets are not part of it."""
        await send_waiting_writes(conn)  # an event published in this transaction, too
        events = await repository.events_of_subject(conn, subject_type, subject_id)
        if not events:
            return []
        deliveries = await repository.deliveries_of_events(conn, [e["id"] for e in events])
        log: dict[int, list[DeliveryAttemptView]] = {}
        for attempt in await repository.attempts_of(conn, [d["id"] for d in deliveries]):
            log.setdefault(attempt["delivery_id"], []).append(DeliveryAttemptView(
                attempt=attempt["attempt"], at=attempt["at"], status_code=attempt["status_code"],
                error=attempt["error"], duration_ms=attempt["duration_ms"]))
        by_event: dict[uuid.UUID, list[DeliveryView]] = {}
        for row in deliveries:
            by_event.setdefault(row["event_id"], []).append(_delivery_view(row, log.get(row["id"])))
        return [EventView(id=e["id"], kind=e["kind"], subject_type=e["subject_type"], subject_id=e["subject_id"],
                          division=e["division"], occurred_at=e["occurred_at"], payload=e["payload"],
                          deliveries=by_event.get(e["id"], [])) for e in events]

    async def delivered_to(self, conn: asyncpg.Connection, subject_type: str, subject_id: str) -> list[Delivery]:
        """Where the subject's events went, as the person it concerns sees it (the caller audits the read)."""
        return [Delivery(subscriber=d.subscriber, status=d.status, attempts=d.attempts, delivered_at=d.delivered_at,
                         last_attempt_at=d.last_attempt_at)
                for event in await self.delivery_log(conn, subject_type, subject_id) for d in event.deliveries]

    # -- subscribers (admins, or the command line as the system) -----------------------------------

    @staticmethod
    def _scope(actor: Actor) -> str:
        """The division prefix an actor administers; the system (command line) administers all."""
        return "" if actor.kind == "system" else divisions.scope_prefix(actor.division or "")

    async def _subscriber_in_scope(self, conn: asyncpg.Connection, actor: Actor,
                                   subscriber_id: uuid.UUID) -> asyncpg.Record:
        row = await repository.subscriber(conn, subscriber_id=subscriber_id)
        return await reachable(self.audit, self.db, actor, row,
                               row is not None and row["division_prefix"].startswith(self._scope(actor)),
                               refused="webhook_subscriber.refused", record_type="webhook_subscriber",
                               record_id=str(subscriber_id), missing="no such webhook subscriber")

    async def subscriber_by_name(self, name: str) -> SubscriberView:
        async with self.db.connection() as conn:
            row = await repository.subscriber(conn, name=name)
        if row is None:
            raise NotFound(f"no webhook subscriber named {name}")
        return _subscriber_view(row)

    async def create_subscriber(self, form: SubscriberCreate, actor: Actor) -> SubscriberSecret:
        try:
            divisions.check_division(form.division, allow_national=True)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("division", str(exc)) from None
        _check_url(form.url, production=self.production)
        await self._check_target(form.url)
        prefix = divisions.scope_prefix(form.division)
        if not prefix.startswith(self._scope(actor)):
            raise ValidationFailed.field("division", "outside the division you administer")
        secret = signing.new_secret()
        kinds = sorted(set(form.kinds))
        async with self.db.transaction() as conn:
            subscriber_id = await repository.insert_subscriber(
                conn, name=form.name, url=form.url, kinds=kinds, division=form.division, division_prefix=prefix,
                secret_enc=self.cipher.encrypt(secret, purpose=SECRET_PURPOSE))
            if subscriber_id is None:
                raise Conflict(f"a webhook subscriber named {form.name} exists")
            row = await repository.subscriber(conn, subscriber_id=subscriber_id)
            await self.audit.record(conn, actor, "webhook_subscriber.created", "webhook_subscriber",
                                    str(subscriber_id), division=form.division,
                                    detail={"name": form.name, "url": form.url, "kinds": kinds})
        return SubscriberSecret(subscriber=_subscriber_view(row), secret=secret)

    async def list_subscribers(self, actor: Actor) -> list[SubscriberView]:
        async with self.db.connection() as conn:
            return [_subscriber_view(r) for r in await repository.subscribers(conn, self._scope(actor))]

    async def get_subscriber(self, actor: Actor, subscriber_id: uuid.UUID) -> SubscriberView:
        async with self.db.connection() as conn:
            return _subscriber_view(await self._subscriber_in_scope(conn, actor, subscriber_id))

    async def update_subscriber(self, actor: Actor, subscriber_id: uuid.UUID,
                                form: SubscriberUpdate) -> SubscriberView:
        if form.url is not None:
            _check_url(form.url, production=self.production)
            await self._check_target(form.url)
        kinds = sorted(set(form.kinds)) if form.kinds is not None else None
        async with self.db.transaction() as conn:
            row = await self._subscriber_in_scope(conn, actor, subscriber_id)
            await repository.update_subscriber(conn, subscriber_id, url=form.url, kinds=kinds, active=form.active)
            changed = {k: v for k, v in (("url", form.url), ("kinds", kinds), ("active", form.active)) if v is not None}
            await self.audit.record(conn, actor, "webhook_subscriber.updated", "webhook_subscriber",
                                    str(subscriber_id), division=row["division"], detail=changed)
            return _subscriber_view(await repository.subscriber(conn, subscriber_id=subscriber_id))

    async def rotate_secret(self, actor: Actor, subscriber_id: uuid.UUID) -> SubscriberSecret:
        """A new secret signs from now on; the old one also signs for `ROTATION_OVERLAP`."""
        secret = signing.new_secret()
        async with self.db.transaction() as conn:
            row = await self._subscriber_in_scope(conn, actor, subscriber_id)
            await repository.rotate_secret(conn, subscriber_id, self.cipher.encrypt(secret, purpose=SECRET_PURPOSE),
                                           dt.datetime.now(dt.UTC) + ROTATION_OVERLAP)
            await self.audit.record(conn, actor, "webhook_subscriber.secret_rotated", "webhook_subscriber",
                                    str(subscriber_id), division=row["division"])
            row = await repository.subscriber(conn, subscriber_id=subscriber_id)
        return SubscriberSecret(subscriber=_subscriber_view(row), secret=secret)

    async def delete_subscriber(self, actor: Actor, subscriber_id: uuid.UUID) -> None:
        """Remove the subscriber with its deliveries (pause it with `active: false` to keep them)."""
        async with self.db.transaction() as conn:
            row = await self._subscriber_in_scope(conn, actor, subscriber_id)
            await repository.delete_subscriber(conn, subscriber_id)
            await self.audit.record(conn, actor, "webhook_subscriber.deleted", "webhook_subscriber",
                                    str(subscriber_id), division=row["division"],
                                    detail={"name": row["name"], "pending_dropped": row["pending"]})

    def secrets_in_use(self, row: asyncpg.Record, now: dt.datetime) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous during a rotation."""
        current = [self.cipher.decrypt(row["secret_enc"], purpose=SECRET_PURPOSE)]
        if row["previous_secret_enc"] is not None and row["previous_secret_until"] and row["previous_secret_until"] > now:
            current.append(self.cipher.decrypt(row["previous_secret_enc"], purpose=SECRET_PURPOSE))
        return current

    # -- the delivery log and dead letters ---------------------------------------------------------

    async def subject_log(self, actor: Actor, subject_type: str, subject_id: str) -> list[EventView]:
        """An admin reads where a subject's events went (payloads may name a person: audited)."""
        scope = self._scope(actor)
        async with self.db.connection() as conn:
            events = await self.delivery_log(conn, subject_type, subject_id)
        events = [e for e in events if (e.division or "").startswith(scope) and (e.division or scope == "")]
        await self.audit.record_read(actor, "event_log.read", subject_type, subject_id, division=actor.division,
                                     detail={"events": len(events)})
        return events

    async def deliveries(self, actor: Actor, *, status: DeliveryStatus | None = None,
                         subscriber_id: uuid.UUID | None = None, limit: int = 100) -> list[DeliveryView]:
        async with self.db.connection() as conn:
            rows = await repository.deliveries(conn, status=status, subscriber_id=subscriber_id,
                                               division_prefix=self._scope(actor), limit=limit)
        return [_delivery_view(r) for r in rows]

    async def redeliver(self, actor: Actor, *, delivery_id: int | None = None,
                        subscriber_id: uuid.UUID | None = None) -> list[int]:
        """Send dead deliveries again (one, or every dead one of a subscriber), with fresh attempts."""
        async with self.db.transaction() as conn:
            if delivery_id is not None:
                row = await repository.delivery(conn, delivery_id)
                if row is None or not divisions.scope_prefix(row["subscriber_division"]).startswith(self._scope(actor)):
                    raise NotFound("no such delivery")
                if row["status"] != "dead":
                    raise Conflict(f"delivery {delivery_id} is {row['status']}; only dead deliveries are sent again")
            if subscriber_id is not None:
                await self._subscriber_in_scope(conn, actor, subscriber_id)
            ids = await repository.redeliver(conn, delivery_id=delivery_id, subscriber_id=subscriber_id)
            await self.audit.record(conn, actor, "event_delivery.redelivered", "event_delivery",
                                    str(delivery_id) if delivery_id is not None else None, division=actor.division,
                                    detail={"deliveries": ids,
                                            "subscriber": str(subscriber_id) if subscriber_id else None})
        return ids

    async def status(self) -> EventsStatus:
        async with self.db.connection() as conn:
            backlog = await repository.backlog(conn)
            jobs = await repository.jobs(conn)
        return EventsStatus(pending=backlog["pending"], dead=backlog["dead"],
                            oldest_pending_at=backlog["oldest_pending_at"],
                            jobs=[JobView(**dict(j)) for j in jobs])

    async def purge(self) -> int:
        """Forget events past the retention period that have nothing left to deliver."""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.policy.retention_days)
        async with self.db.transaction() as conn:
            count = await repository.purge_events(conn, cutoff)
            if count:
                await self.audit.record(conn, Actor.system(), "events.purged", "event_outbox", None,
                                        detail={"count": count, "older_than": cutoff.isoformat()})
        return count
