"""Rate limits live in Redis and answer 429 with Retry-After."""

import msgspec
import pytest

from backend.container import Services
from tests.concurrency import at_once
from tests.factories import STAFF_PASSWORD, create_staff, new_phone, register_citizen, send_code


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


async def test_concurrent_staff_sign_ins_check_no_more_passwords_than_the_limit(client, services):
    """Fourteen wrong passwords and the right one last, all at once: each attempt is counted before
    its password is checked, so only the limit's worth are checked and the rest are refused unchecked."""
    await create_staff(services, "race.staff", "receiving_officer", "330000")
    limit = services.identity.limits.sign_in_attempts
    passwords = [f"guess {n}" for n in range(14)] + [STAFF_PASSWORD]

    answers = await at_once(services, *(
        client.post("/auth/staff/sign-in", json={"username": "race.staff", "password": password})
        for password in passwords), hold_redis_writes=True)

    statuses = [a.status_code for a in answers]
    checked = [s for s in statuses if s in (200, 401)]
    assert len(checked) <= limit and statuses.count(429) >= len(passwords) - limit, statuses
    assert statuses[-1] == 429  # the right password came after the limit was used up


async def test_concurrent_code_guesses_compare_no_more_codes_than_the_limit(client, services):
    """Fifty guesses at once with the real code sent last: it arrives after the limit's worth of wrong
    codes have been compared, and is refused."""
    citizen = await register_citizen(client, services)
    code = await send_code(client, services, citizen["phone"])
    guesses = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 50)] + [code]
    limit = services.identity.limits.sign_in_attempts

    answers = await at_once(services, *(
        client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": guess}) for guess in guesses),
        hold_redis_writes=True)

    statuses = [a.status_code for a in answers]
    assert statuses.count(422) <= limit and statuses.count(429) >= len(guesses) - limit, statuses
    assert statuses[-1] == 429


async def test_a_right_code_gives_its_attempt_back(client, services):
    """Only failures stay counted: right codes between wrong ones do not use the limit up."""
    citizen = await register_citizen(client, services)
    sign_in = lambda code: client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": code})  # noqa: E731
    code = await send_code(client, services, citizen["phone"])
    wrong = [(await sign_in(f"{(int(code) + 1) % 10**6:06d}")).status_code
             for _ in range(services.identity.limits.sign_in_attempts - 1)]

    first, second = (await sign_in(code)).status_code, (await sign_in(await send_code(client, services, citizen["phone"])))

    assert set(wrong) == {422} and first == 200 and second.status_code == 200, second.text


async def test_variants_of_a_limited_phone_number_are_refused_not_sent_a_code(strict_client, strict_services):
    """After a 429 for a phone, its variants (a final newline, an Arabic-Indic or fullwidth digit) are
    not new phones with fresh limits: they are not phone numbers at all."""
    phone = new_phone()
    assert (await strict_client.post("/auth/code", json={"phone": phone})).status_code == 202
    assert (await strict_client.post("/auth/code", json={"phone": phone})).status_code == 429
    variants = [phone + "\n", phone + "\r", " " + phone, phone[:-1] + "\u0667", "\uff11" + phone[1:],
                phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))]

    statuses = [(await strict_client.post("/auth/code", json={"phone": v})).status_code for v in variants]

    assert statuses == [422] * len(variants)
    assert await strict_services.db.pool.fetchval("SELECT count(*) FROM sms_outbox") == 1
