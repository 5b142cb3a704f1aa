"""Sending deliveries: claim a batch under a lease, post each as a signed webhook, settle each.

At least once: a delivery is settled only after the receiver answered, so a worker that dies
mid-batch leaves its leases to expire and another worker sends those deliveries again — with the
same `webhook-id`, which is what receivers de-duplicate on. Never by two workers at once: a delivery
is claimed with `FOR UPDATE SKIP LOCKED` and leased for longer than a request may take.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from dataclasses import dataclass

import asyncpg
import httpx
import msgspec

from backend.db import Database
from backend.events import repository, signing, targets
from backend.events.schemas import EventEnvelope
from backend.events.service import DeliveryPolicy, EventService

log = logging.getLogger("tongban.events")
USER_AGENT = "Tongban-Webhooks/1"


def backoff(policy: DeliveryPolicy, attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failure: doubling from the base, capped, with ±20 %
    jitter so that a receiver coming back is not hit by every retry at the same instant."""
    delay = min(policy.retry_max_seconds, policy.retry_base_seconds * 2 ** (attempts - 1))
    return delay * random.uniform(0.8, 1.2)


def envelope(row: asyncpg.Record) -> bytes:
    """The request body: the same bytes on every attempt of an event."""
    return msgspec.json.encode(EventEnvelope(
        id=str(row["event_id"]), kind=row["kind"], subject={"type": row["subject_type"], "id": row["subject_id"]},
        division=row["division"], occurred_at=row["occurred_at"].astimezone(dt.UTC).isoformat(),
        payload=row["payload"]))


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class Deliverer:
    """Keeps up to `concurrency` webhook requests in flight; claims more as requests finish, so one slow
    receiver holds one slot, not the whole worker."""

    def __init__(self, db: Database, events: EventService, worker: str, client: httpx.AsyncClient | None = None) -> None:
        self.db, self.events, self.worker = db, events, worker
        self.policy = events.policy
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(self.policy.http_timeout_seconds), follow_redirects=False,
            headers={"user-agent": USER_AGENT}, limits=httpx.Limits(max_connections=self.policy.concurrency))
        self._in_flight: set[asyncio.Task[None]] = set()
        self.freed = asyncio.Event()

    @property
    def room(self) -> int:
        return self.policy.concurrency - len(self._in_flight)

    async def fill(self) -> int:
        """Claim as many due deliveries as there is room for and start sending them; return how many."""
        if self.room <= 0:
            return 0
        async with self.db.transaction() as conn:
            claimed = await repository.claim_deliveries(conn, min(self.room, self.policy.batch),
                                                        self.policy.lease_seconds, self.worker)
        for row in claimed:
            task = asyncio.create_task(self._deliver(row))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self.freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed: %r", task.exception())

    async def drain(self) -> None:
        """Wait for the requests in flight to be answered and settled."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.client.aclose()

    async def _deliver(self, row: asyncpg.Record) -> None:
        outcome = await self._post(row)
        retry_at = None
        if not outcome.delivered and row["attempts"] < self.policy.max_attempts:
            retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=backoff(self.policy, row["attempts"]))
        async with self.db.transaction() as conn:
            status = await repository.settle_delivery(
                conn, row["id"], row["attempts"], self.worker, status_code=outcome.status_code, error=outcome.error,
                duration_ms=outcome.duration_ms, delivered=outcome.delivered, retry_at=retry_at)
        if status == "dead":
            log.warning("delivery %s of event %s is dead after %s attempts (last: %s)", row["id"], row["event_id"],
                        row["attempts"], outcome.error or outcome.status_code)

    async def _post(self, row: asyncpg.Record) -> Outcome:
        body = envelope(row)
        now = dt.datetime.now(dt.UTC)
        headers = signing.headers(self.events.secrets_in_use(row, now), str(row["event_id"]), body)
        headers |= {"content-type": "application/json", "tongban-event-kind": row["kind"],
                    "tongban-delivery-attempt": str(row["attempts"])}
        started = time.perf_counter()
        try:
            # httpx's timeout bounds each read, not the whole request: a receiver sending a byte now and
            # then could outlast the lease (and a second worker would send the event meanwhile). The
            # deadline bounds it all; the answer's body is never read — its status says everything.
            async with asyncio.timeout(self.policy.http_timeout_seconds):
                url, extensions = await self._target(row["url"], headers)
                async with self.client.stream("POST", url, content=body, headers=headers,
                                              extensions=extensions) as response:
                    status_code = response.status_code
        except targets.TargetRefused as exc:
            return Outcome(False, None, f"refused: {exc}", self._ms(started))
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, None, "timeout", self._ms(started))
        except Exception as exc:  # noqa: BLE001 - whatever else stopped the request (HTTP errors; a URL stored
            # before URLs were checked, which the client cannot send to) is a failed attempt, logged and
            # retried until the delivery is dead, not a task that fails and comes round again with the lease
            while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # the connection's task group's
                exc = exc.exceptions[0]
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300], self._ms(started))
        delivered = 200 <= status_code < 300
        error = None if delivered else f"HTTP {status_code}"
        return Outcome(delivered, status_code, error, self._ms(started))

    async def _target(self, url: str, headers: dict[str, str]) -> tuple[httpx.URL | str, dict[str, str]]:
        """Where to connect. When private targets are refused, the host is resolved here, every address
        checked, and the request sent to the first one (its name kept as `Host` and for TLS), so the
        address checked is the address contacted."""
        if not self.policy.refuse_private_targets:
            return url, {}
        resolved = await targets.allowed_addresses(url, self.policy.private_networks)
        target = httpx.URL(url)
        headers["host"] = target.netloc.decode("ascii")
        return target.copy_with(host=resolved[0]), ({"sni_hostname": target.host} if target.scheme == "https" else {})

    @staticmethod
    def _ms(started: float) -> int:
        return round((time.perf_counter() - started) * 1000)
