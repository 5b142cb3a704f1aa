"""The real server: two worker processes share nothing but PostgreSQL and Redis."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.factories import latest_code, resident_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(settings, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TONGBAN_REDIS_PREFIX": settings.redis_prefix, "TONGBAN_CODE_RESEND_SECONDS": "0",
           "TONGBAN_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--workers", "2", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("server did not become ready: " + process.communicate()[0][-2000:])
    yield base, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def fresh(base: str) -> httpx.Client:
    """A new connection per request, so requests spread over the workers."""
    return httpx.Client(base_url=base, headers={"Connection": "close"}, timeout=10)


async def test_two_workers_serve_one_flow_without_in_process_state(server, services):
    base, process = server
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

    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=20)[0]
    logs = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [entry for entry in logs if entry["logger"] == "tongban.access"]
    assert access and all(entry.get("request_id") for entry in access)
    assert number not in output and phone not in output
