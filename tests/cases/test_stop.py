"""Stopping the server under load (a rolling restart): `tongban serve` asked to stop with SIGINT while
citizens keep applying finishes every application it has begun, and closes its pools only after. Half
the citizens wait for their answer; the other half give up at the moment of the stop (a proxy's
timeout, wrk ending a run), leaving requests the server is still answering."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid

import httpx

from tests.cases.conftest import applicant, household_application
from tests.server import tongban_server

CLIENTS = 64


async def test_a_stopped_server_finishes_every_application_it_began(client, services, settings, tmp_path):
    person = await applicant(client, services, "id_card", "household_register", "real_estate_certificate")
    answers: list[tuple[bool, int | None]] = []  # (sent before the stop, status or None for no answer)

    with tongban_server(settings, tmp_path) as server:
        stopping = asyncio.Event()

        async def keep_applying(http: httpx.AsyncClient) -> None:
            while True:
                before = not stopping.is_set()
                try:
                    response = await http.post("/me/cases", json=household_application(person),
                                               headers={**person["headers"], "Idempotency-Key": str(uuid.uuid4())})
                    answers.append((before, response.status_code))
                except httpx.TransportError:
                    answers.append((before, None))
                    if stopping.is_set():
                        return

        # One connection per client, each with a request in the server when the stop comes.
        clients = [httpx.AsyncClient(base_url=server.base_url, timeout=30) for _ in range(CLIENTS)]
        waiting = [asyncio.create_task(keep_applying(http)) for http in clients[:CLIENTS // 2]]
        leaving = [asyncio.create_task(keep_applying(http)) for http in clients[CLIENTS // 2:]]
        while sum(status == 201 for _, status in answers) < 2 * CLIENTS:
            await asyncio.sleep(0.05)
        stopping.set()
        for task in leaving:
            task.cancel()
        for http in clients[CLIENTS // 2:]:
            await http.aclose()
        server.process.send_signal(signal.SIGINT)  # as a process manager stops it
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=60)
        for http in clients[:CLIENTS // 2]:
            await http.aclose()
        output = server.stop()

    # Whoever waited was answered, unless they asked after the stop.
    assert {status for before, status in answers if before} == {201}
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert not [line for line in output.splitlines() if line.startswith("Traceback")]
    troubles = [entry for entry in logged if entry["level"] in ("warning", "error")]
    assert not troubles, troubles[:2]
    # Every application the server began it finished, answered 201 (to whoever still listened), and every
    # case written is one of them: none failed half-way because the pools closed under it.
    finished = [entry for entry in logged if entry["logger"] == "tongban.access" and entry["path"] == "/me/cases"]
    # 499: a citizen who gave up before the server had read the application; nothing was written for it.
    assert {entry["status"] for entry in finished} <= {201, 499}
    kept = await services.db.pool.fetchval("SELECT count(*) FROM cases WHERE citizen_id = $1", uuid.UUID(person["id"]))
    assert kept == [entry["status"] for entry in finished].count(201)
