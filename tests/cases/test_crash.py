"""The crash test (issue 14): `tongban serve` runs as a process; staff move many cases at once — every
action sent twice at the same moment — and citizens apply with Idempotency-Keys; the server and
everything it started are killed with SIGKILL mid-way; after a restart no case is lost, no transition
was applied twice, every acknowledged answer holds, the retried requests settle exactly once, the
signed exchange records verify and `tongban audit verify` passes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import defaultdict

import httpx

from backend.cases.exchanges import CaseExchanges
from tests.cases.conftest import applicant, household_application
from tests.factories import bearer, exchange_keys, staff_token
from tests.server import tongban_server

CASES = 8
APPLICATIONS = 6
# receive and hand over at 杭州 (330106), accept and start the review at 成都锦江 (510104).
STEPS = [("receive", "receiving"), ("hand_over", "receiving"), ("accept", "handling"), ("start_review", "handling")]


def tongban(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TONGBAN_REDIS_PREFIX": settings.redis_prefix}
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


async def test_a_server_killed_mid_way_loses_no_case_and_applies_no_transition_twice(client, services, settings,
                                                                                     tmp_path):
    await exchange_keys(services)
    person = await applicant(client, services, "id_card", "household_register", "real_estate_certificate")
    tokens = {"receiving": await staff_token(client, services, "receiving_officer", "330000"),
              "handling": await staff_token(client, services, "handling_officer", "510000")}
    cases = []
    for _ in range(CASES):
        applied = await client.post("/me/cases", headers=person["headers"], json=household_application(person))
        assert applied.status_code == 201, applied.text
        cases.append(applied.json()["id"])
    keys = [f"crash-{uuid.uuid4()}" for _ in range(APPLICATIONS)]
    answers: dict[tuple[str, str], list[int | None]] = defaultdict(list)  # None: no answer (killed)
    for life in ("first", "second"):
        (tmp_path / life).mkdir()
    applications: dict[str, str | None] = {}

    # -- first life: concurrent moves, killed once about half of the requests have been answered --
    with tongban_server(settings, tmp_path / "first") as server:
        answered, kill_after = 0, CASES * len(STEPS)

        def count() -> None:
            nonlocal answered
            answered += 1
            if answered == kill_after:
                server.kill()

        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            async def act(case_id: str, action: str, side: str) -> int | None:
                try:
                    status = (await http.post(f"/staff/cases/{case_id}/actions", headers=bearer(tokens[side]),
                                              json={"action": action})).status_code
                except httpx.TransportError:
                    status = None
                answers[(case_id, action)].append(status)
                count()
                return status

            async def drive(case_id: str) -> None:
                for action, side in STEPS:
                    if 200 not in await asyncio.gather(act(case_id, action, side), act(case_id, action, side)):
                        return

            async def apply(key: str) -> None:
                try:
                    response = await http.post("/me/cases", json=household_application(person),
                                               headers={**person["headers"], "Idempotency-Key": key})
                    applications[key] = response.json()["id"] if response.status_code == 201 else None
                except httpx.TransportError:
                    applications[key] = None
                count()

            await asyncio.gather(*(drive(c) for c in cases), *(apply(k) for k in keys))
        assert server.process.returncode == -9
    statuses = [s for outcome in answers.values() for s in outcome]
    assert None in statuses and 200 in statuses, "the kill came before or after every request, not mid-way"
    for (case_id, action), outcome in answers.items():
        assert outcome.count(200) <= 1, (case_id, action, outcome)  # of two at once, at most one wins
        assert set(outcome) <= {200, 409, None}, (case_id, action, outcome)

    # -- second life: what was answered holds; what was not is retried and applies exactly once --
    with tongban_server(settings, tmp_path / "second") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            async def timeline(case_id: str) -> list[str]:
                view = await http.get(f"/staff/cases/{case_id}", headers=bearer(tokens["receiving"]))
                assert view.status_code == 200, view.text  # no case lost
                return [step["step"] for step in view.json()["timeline"]]

            for case_id in cases:
                steps = await timeline(case_id)
                assert len(steps) == len(set(steps)), steps  # nothing applied twice
                for action, _side in STEPS:
                    if 200 in answers[(case_id, action)]:
                        assert action in steps, (case_id, action, steps)  # an acknowledged move survived
                for action, side in STEPS:  # the client retries what it has no answer for
                    retried = await http.post(f"/staff/cases/{case_id}/actions", headers=bearer(tokens[side]),
                                              json={"action": action})
                    assert retried.status_code == (409 if action in steps else 200), (action, steps, retried.text)
                final = await timeline(case_id)
                assert [s for s in final if s in dict(STEPS)] == [a for a, _ in STEPS], final

            for key in keys:
                again = await http.post("/me/cases", json=household_application(person),
                                        headers={**person["headers"], "Idempotency-Key": key})
                assert again.status_code == 201, again.text
                if applications[key] is not None:
                    assert again.json()["id"] == applications[key]  # the acknowledged case, not a second one
            mine = (await http.get("/me/cases", headers=person["headers"], params={"limit": 100})).json()
            assert mine["total"] == CASES + APPLICATIONS
            numbers = [i["number"] for i in mine["items"] if i["id"] in cases]

    certificates = services.certificates
    exchanges = CaseExchanges(services.db, services.audit, certificates.vault, certificates.lists)
    for number in numbers:
        verdict = await exchanges.verify(number)
        assert (verdict.ok, verdict.entries, verdict.holder) == (True, 2, "510104"), verdict
    verified = tongban(settings, "cases", "verify-exchanges", numbers[0])
    audit = tongban(settings, "audit", "verify")
    assert verified.returncode == 0 and "intact: 2 entries" in verified.stdout, verified.stdout + verified.stderr
    assert audit.returncode == 0 and "audit chain intact" in audit.stdout, audit.stdout + audit.stderr
