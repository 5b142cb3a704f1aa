"""The real server: two worker processes share nothing but PostgreSQL and Redis."""

import json

import httpx
import pytest

from tests.factories import latest_code, resident_id
from tests.server import tongban_server


@pytest.fixture
def server(settings, tmp_path):
    with tongban_server(settings, tmp_path, workers=2) as running:
        yield running


def fresh(base: str) -> httpx.Client:
    """A new connection per request, so requests spread over the workers."""
    return httpx.Client(base_url=base, headers={"Connection": "close"}, timeout=10)


async def test_two_workers_serve_one_flow_without_in_process_state(server, services):
    base = server.base_url
    phone, number = "13700000077", resident_id("510107")

    with fresh(base) as http:
        assert http.post("/auth/code", json={"phone": phone}).status_code == 202
    code = await latest_code(services, phone)
    with fresh(base) as http:
        registered = http.post("/citizens", json={"phone": phone, "code": code, "resident_id": number,
                                                  "name": "两进程", "home_division": "510107"})
    assert registered.status_code == 201, registered.text
    tokens = registered.json()

    workers, statuses = set(), []
    for _ in range(40):
        with fresh(base) as http:
            workers.add(http.get("/health/live").json()["worker"])
            statuses.append(http.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code)
        if len(workers) == 2 and len(statuses) >= 10:
            break
    with fresh(base) as http:
        refreshed = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        metrics = http.get("/metrics").text

    assert len(workers) == 2, "requests never reached the second worker"
    assert set(statuses) == {200}
    assert refreshed.status_code == 200
    assert 'path="/me"' in metrics

    output = server.stop()
    logs = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [entry for entry in logs if entry["logger"] == "tongban.access"]
    assert access and all(entry.get("request_id") for entry in access)
    assert number not in output and phone not in output
