"""`tongban worker`: sends due webhook deliveries and runs scheduled jobs until told to stop.

Any number of workers may run (on one machine or several): deliveries are leased with
`FOR UPDATE SKIP LOCKED`, jobs run under an advisory lock. An idle worker wakes on PostgreSQL
`NOTIFY` when an event commits, and looks for due work every `poll_seconds` in any case (retries
become due by time, not by notification).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence

import asyncpg

from backend.container import Services
from backend.events import repository
from backend.events.delivery import Deliverer
from backend.events.scheduler import Job, JobRunner

log = logging.getLogger("tongban.worker")


def worker_name() -> str:
    """Host, process and a short random part: unique even when a process id is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, services: Services, jobs: Sequence[Job], name: str | None = None,
                 deliverer: Deliverer | None = None) -> None:
        self.services = services
        self.name = name or worker_name()
        self.deliverer = deliverer or Deliverer(services.db, services.events, self.name)
        self.jobs = JobRunner(services, jobs, self.name)
        self.policy = services.events.policy
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then finish the batch and jobs in hand, and return."""
        await self.jobs.register()
        listener = await self._listen()
        log.info("worker %s started", self.name)
        try:
            next_tick = 0.0
            while not stop.is_set():
                self._wake.clear()
                self.deliverer.freed.clear()
                try:
                    if (now := time.monotonic()) >= next_tick:  # jobs are looked at once per poll period
                        next_tick = now + self.policy.poll_seconds
                        await self.jobs.tick()
                    claimed = await self.deliverer.fill()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    # The database is away: keep what is in flight, try again after a pause.
                    log.error("worker %s cannot reach the database: %s", self.name, exc)
                    claimed = 0
                if claimed and self.deliverer.room > 0:
                    continue  # room left and work was due: there may be more
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken_or(stop), timeout=self.policy.poll_seconds)
        finally:
            await self.deliverer.drain()
            await self.jobs.wait_idle()
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()
            await self.deliverer.close()
            log.info("worker %s stopped", self.name)

    async def run_until_idle(self) -> None:
        """Send everything due now and run due jobs once (`tongban worker --once`, tests)."""
        await self.jobs.register()
        await self.jobs.tick()
        while await self.deliverer.fill():
            await self.deliverer.drain()
        await self.jobs.wait_idle()

    async def _woken_or(self, stop: asyncio.Event) -> None:
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait()),
                 asyncio.create_task(self.deliverer.freed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def _listen(self) -> asyncpg.Connection | None:
        """A connection of its own listening for committed events; without it, polling still works."""
        try:
            conn = await asyncpg.connect(self.services.settings.database_url)
            await conn.add_listener(repository.NOTIFY_CHANNEL, lambda *_: self._wake.set())
            return conn
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot listen for events (%s); polling every %s s", exc, self.policy.poll_seconds)
            return None
