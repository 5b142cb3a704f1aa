"""`tongban worker` as real processes: several at once never send the same event twice; one killed
with SIGKILL mid-batch loses nothing (what it had in flight is sent again, with the same event id).
Scheduled jobs run on one worker at a time. `tongban serve` starts a worker in development."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

from backend.cli import stop_process as stop
from backend.db import Database
from backend.events.scheduler import Job, JobRunner
from tests.concurrency import at_once
from tests.events.helpers import delivery_statuses, eventually, publish, subscribe
from tests.server import tongban_server


def start_worker(settings, folder: Path, name: str, **events: str) -> tuple[subprocess.Popen[bytes], Path]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TONGBAN_REDIS_PREFIX": settings.redis_prefix, "TONGBAN_DATA_DIR": str(folder),
           "TONGBAN_EVENTS_POLL_SECONDS": "0.1", "TONGBAN_EVENTS_RETRY_BASE_SECONDS": "0.1",
           **{f"TONGBAN_EVENTS_{k.upper()}": v for k, v in events.items()}}
    output = folder / f"{name}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "worker"], env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)
    return process, output


async def wait_started(*outputs: Path) -> None:
    await eventually(lambda: _all_started(outputs), timeout=30, what="workers to start")


async def _all_started(outputs) -> bool:
    return all(path.exists() and "started" in path.read_text() for path in outputs)


async def _all_delivered(services, count: int) -> bool:
    return (await delivery_statuses(services)).get("delivered", 0) == count


async def test_two_workers_share_the_work_and_never_send_an_event_twice(settings, services, receiver, tmp_path):
    await subscribe(services, receiver.url)
    receiver.mode, receiver.delay = "slow", 0.02
    workers = [start_worker(settings, tmp_path, f"w{i}", concurrency="4") for i in range(2)]
    try:
        await wait_started(*(output for _, output in workers))
        sent = await publish(services, 60)
        await eventually(lambda: _all_delivered(services, 60), timeout=30, what="60 deliveries")
    finally:
        for process, _ in workers:
            stop(process)

    counts = collections.Counter(receiver.event_ids())
    assert set(counts) == set(sent) and set(counts.values()) == {1}
    senders = await services.db.pool.fetchval("SELECT count(DISTINCT worker) FROM event_delivery_attempts")
    assert senders == 2


async def test_a_worker_killed_mid_batch_loses_nothing(settings, services, receiver, tmp_path):
    await subscribe(services, receiver.url)
    receiver.mode, receiver.delay = "slow", 0.3
    quick = {"concurrency": "4", "http_timeout_seconds": "2", "lease_seconds": "3"}
    sent = await publish(services, 30)
    first, first_log = start_worker(settings, tmp_path, "first", **quick)
    try:
        await eventually(lambda: _received_at_least(receiver, 6), timeout=30, what="the first requests")
        first.send_signal(signal.SIGKILL)
        first.wait()
        settled_before = (await delivery_statuses(services)).get("delivered", 0)
        second, _ = start_worker(settings, tmp_path, "second", **quick)
        await eventually(lambda: _all_delivered(services, 30), timeout=40, what="every delivery after the kill")
    finally:
        stop(first)
        stop(second)

    assert settled_before < 30
    ids = receiver.event_ids()
    assert set(ids) == set(sent)
    bodies: dict[str, set[bytes]] = collections.defaultdict(set)
    for request in receiver.received:
        bodies[request.headers["webhook-id"]].add(request.body)
    assert all(len(variants) == 1 for variants in bodies.values())  # a repeat is the same event, same bytes
    assert len(ids) - len(set(ids)) <= 4  # only what the killed worker had in flight


async def _received_at_least(receiver, count: int) -> bool:
    return len(receiver.received) >= count


async def test_a_due_job_runs_on_one_worker_at_a_time(settings, services):
    runs: list[str] = []

    async def slow_job(_services) -> str:
        runs.append("run")
        await asyncio.sleep(0.3)
        return "done"

    async def failing_job(_services) -> str:
        raise ValueError("the data provider is away")

    jobs = [Job("test.slow", dt.timedelta(hours=1), slow_job), Job("test.failing", dt.timedelta(seconds=1), failing_job)]
    other_db = await Database.connect(settings.database_url, max_size=3)
    try:
        here = JobRunner(services, jobs, "worker-a")
        there = JobRunner(types.SimpleNamespace(db=other_db), jobs, "worker-b")  # another pool: other sessions
        await here.register()
        await at_once(services, here.tick(), there.tick())
        await asyncio.gather(here.wait_idle(), there.wait_idle())
        again = await here.tick()
    finally:
        await other_db.close()

    assert runs == ["run"] and again == []
    rows = {r["name"]: r for r in await services.db.pool.fetch("SELECT * FROM scheduled_jobs")}
    assert rows["test.slow"]["last_outcome"] == "ok" and rows["test.slow"]["runs"] == 1
    assert rows["test.slow"]["next_run_at"] > rows["test.slow"]["last_started_at"] + dt.timedelta(minutes=59)
    assert rows["test.failing"]["last_outcome"] == "failed"
    assert "the data provider is away" in rows["test.failing"]["last_summary"]


async def test_serve_starts_a_worker_in_development(settings, services, receiver, tmp_path):
    await subscribe(services, receiver.url)
    with tongban_server(settings, tmp_path, env={"TONGBAN_EVENTS_POLL_SECONDS": "0.1"}):
        (event_id,) = await publish(services)
        await eventually(lambda: _all_delivered(services, 1), timeout=30, what="the delivery by serve's worker")
    assert receiver.event_ids() == [event_id]
