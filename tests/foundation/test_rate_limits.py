"""Rate limits live in Redis and answer 429 with Retry-After."""

import msgspec
import pytest

from backend.container import Services
from tests.factories import new_phone, register_citizen, send_code


@pytest.fixture
async def strict_services(settings):
    """Services with the production code-resend limit."""
    started = await Services.start(msgspec.structs.replace(settings, code_resend_seconds=60))
    yield started
    await started.close()


@pytest.fixture
async def strict_client(strict_services):
    import httpx

    from mobile_api.app import create_app

    transport = httpx.ASGITransport(app=create_app(services=strict_services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_second_code_within_a_minute_is_refused(strict_client):
    phone = new_phone()
    assert (await strict_client.post("/auth/code", json={"phone": phone})).status_code == 202

    again = await strict_client.post("/auth/code", json={"phone": phone})

    assert again.status_code == 429
    assert again.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(again.headers["retry-after"]) <= 60
    # Another phone is not affected.
    assert (await strict_client.post("/auth/code", json={"phone": new_phone()})).status_code == 202


async def test_sign_in_attempts_are_capped_per_phone(client, services):
    citizen = await register_citizen(client, services)
    code = await send_code(client, services, citizen["phone"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    limit = services.identity.limits.sign_in_attempts

    statuses = [(await client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": wrong})).status_code
                for _ in range(limit)]
    blocked = await client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": code})

    assert statuses == [422] * limit
    assert blocked.status_code == 429  # even the right code, until the window passes


async def test_staff_sign_in_attempts_are_capped_per_account(client, services):
    limit = services.identity.limits.sign_in_attempts
    for _ in range(limit):
        await client.post("/auth/staff/sign-in", json={"username": "admin", "password": "guess"})

    response = await client.post("/auth/staff/sign-in", json={"username": "admin", "password": "guess"})

    assert response.status_code == 429
