"""Arrange and wait helpers of the events tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec

from backend.actors import Actor
from backend.container import Services
from backend.events.schemas import SubscriberCreate
from backend.events.worker import Worker


async def subscribe(services: Services, url: str, *, name: str = "sc-pension", kinds: tuple[str, ...] = ("pension.*",),
                    division: str = "510000") -> tuple[str, str]:
    """Register a subscriber as the system; return (id, secret)."""
    created = await services.events.create_subscriber(msgspec.convert(
        {"name": name, "url": url, "kinds": list(kinds), "division": division}, SubscriberCreate), Actor.system())
    return str(created.subscriber.id), created.secret


async def publish(services: Services, count: int = 1, *, kind: str = "pension.recognised",
                  division: str | None = "510107", subject_type: str = "pension_roster_entry") -> list[str]:
    """`count` events, committed in one transaction; return their ids."""
    async with services.db.transaction() as conn:
        return [str(await services.events.publish(conn, kind=kind, subject_type=subject_type, subject_id=f"entry-{i}",
                                                  division=division, payload={"n": i, "method": "face-phone"}))
                for i in range(count)]


async def delivery_statuses(services: Services) -> dict[str, int]:
    rows = await services.db.pool.fetch("SELECT status, count(*) AS n FROM event_deliveries GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_worker(services: Services, jobs=()) -> AsyncIterator[Worker]:
    """A worker running in this event loop until the block ends."""
    worker = Worker(services, list(jobs))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
