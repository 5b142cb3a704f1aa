"""Requests that truly overlap.

The test pool opens its database connections lazily (`db_pool_min` is 1): in a gathered batch the
first request could commit before the next had even connected, and a race the batch is meant to
provoke would never happen. `at_once` opens every connection (database and Redis) first, then starts
all the calls together, so each reaches the database while the others are in flight.

A check-then-count race in Redis needs more: in-process requests are handled one after another up to
their first wait, and Redis answers in microseconds, so a read and the write after it rarely leave a
gap. `at_once(..., hold_redis_writes=True)` holds every Redis write (`CLIENT PAUSE … WRITE`) while the
calls start: all of them pass their reads before any write lands, the widest window such a race can
have. Only writes wait, for at most the hold; other tests sharing the server are merely slowed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from backend.container import Services

T = TypeVar("T")
HOLD_MS = 1000


async def warm(services: Services) -> None:
    """Open every connection the pools may hand out, so that none is opened in the middle of a race."""
    for pool in (services.db.pool, services.db.separate_pool):
        held = await asyncio.gather(*(pool.acquire() for _ in range(pool.get_max_size())))
        await asyncio.gather(*(pool.release(conn) for conn in held))
    await asyncio.gather(*(services.ephemeral.client.ping() for _ in range(16)))


async def at_once(services: Services, *calls: Awaitable[T], hold_redis_writes: bool = False) -> list[T]:
    """Await `calls` (coroutines, not yet started) concurrently on warm pools; the answers in order."""
    await warm(services)
    if hold_redis_writes:
        await services.ephemeral.client.execute_command("CLIENT", "PAUSE", HOLD_MS, "WRITE")
    return await asyncio.gather(*calls)
