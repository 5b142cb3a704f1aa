"""Scheduled jobs: each registered job runs every `every`, on one worker at a time.

A run holds a PostgreSQL advisory lock on a connection of its own for as long as it lasts, so of
several workers (in one process or many) exactly one runs a due job; a worker that dies releases the
lock with its connection, and the job, still due, runs again on the next tick of any worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backend.events import repository

if TYPE_CHECKING:
    from backend.container import Services

log = logging.getLogger("tongban.jobs")


@dataclass(frozen=True, slots=True)
class Job:
    """A job of the registry (`backend/jobs.py`): `run(services)` returns a one-line summary or None."""

    name: str
    every: dt.timedelta
    run: Callable[[Services], Awaitable[str | None]]


class JobRunner:
    def __init__(self, services: Services, jobs: Sequence[Job], worker: str) -> None:
        self.services, self.worker = services, worker
        self.jobs = {job.name: job for job in jobs}
        self._running: dict[str, asyncio.Task[None]] = {}

    async def register(self) -> None:
        async with self.services.db.transaction() as conn:
            await repository.register_jobs(conn, [(j.name, max(1, round(j.every.total_seconds())))
                                                  for j in self.jobs.values()])

    async def tick(self) -> list[str]:
        """Start every due job not already running here; return their names."""
        if not self.jobs:
            return []
        async with self.services.db.connection() as conn:
            due = await repository.due_jobs(conn, list(self.jobs))
        started = []
        for name in due:
            if name in self._running:
                continue
            self._running[name] = asyncio.create_task(self._run(self.jobs[name]), name=f"job:{name}")
            started.append(name)
        return started

    async def _run(self, job: Job) -> None:
        try:
            async with self.services.db.connection() as lock_conn:
                if not await repository.try_lock_job(lock_conn, job.name):
                    return  # another worker is running it
                try:
                    if not await repository.start_job(lock_conn, job.name, self.worker):
                        return  # another worker ran it between our look and our lock
                    outcome, summary = "ok", None
                    try:
                        summary = await job.run(self.services)
                    except Exception as exc:  # a failing job is recorded and retried at its next time
                        log.exception("job %s failed", job.name)
                        outcome, summary = "failed", f"{type(exc).__name__}: {exc}"[:500]
                    await repository.finish_job(lock_conn, job.name, outcome, summary)
                    log.info("job %s %s: %s", job.name, outcome, summary or "-")
                finally:
                    await repository.unlock_job(lock_conn, job.name)
        finally:
            self._running.pop(job.name, None)

    async def wait_idle(self) -> None:
        """Let running jobs finish (used on shutdown and by tests)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)
