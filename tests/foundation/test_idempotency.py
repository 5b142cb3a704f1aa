"""A create retried with the same Idempotency-Key returns the first answer and creates nothing new."""

from backend.idempotency import request_fingerprint
from backend.jobs import purge_idempotency
from tests.concurrency import at_once
from tests.factories import bearer, new_phone, resident_id, send_code, staff_token


async def test_reusing_a_key_for_a_different_request_is_refused(client, services):
    admin = await staff_token(client, services, "admin", "330000")
    account = {"username": "zj.a", "display_name": "甲", "password": "a-long-enough-password",
               "role": "receiving_officer", "division_code": "330000"}
    headers = {**bearer(admin), "Idempotency-Key": "staff-1"}

    first = await client.post("/admin/staff", json=account, headers=headers)
    other = await client.post("/admin/staff", json={**account, "username": "zj.b"}, headers=headers)

    assert first.status_code == 201
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    assert await services.db.pool.fetchval("SELECT count(*) FROM staff WHERE username LIKE 'zj.%'") == 1


def test_a_key_names_the_query_too_in_any_order():
    """`POST …/declarations?method=assisted-counter` and `?method=home-visit&booking_id=…` with one body are
    two requests: a key reused for the second is refused, not answered with the first's recognition."""
    path, body = "/staff/pension/roster/1/declarations", b'{"statement": "x"}'
    counter = request_fingerprint("POST", path, "method=assisted-counter", body)
    visit = request_fingerprint("POST", path, "method=home-visit&booking_id=7", body)
    assert counter != visit
    assert visit == request_fingerprint("POST", path, "booking_id=7&method=home-visit", body)
    assert request_fingerprint("POST", path, "", body) != counter


async def test_a_failed_create_does_not_burn_the_key(client, services):
    admin = await staff_token(client, services, "admin", "330000")
    bad = {"username": "zj.c", "display_name": "丙", "password": "a-long-enough-password",
           "role": "receiving_officer", "division_code": "510000"}
    headers = {**bearer(admin), "Idempotency-Key": "staff-2"}

    refused = await client.post("/admin/staff", json=bad, headers=headers)
    fixed = await client.post("/admin/staff", json={**bad, "division_code": "330100"}, headers=headers)

    assert refused.status_code == 403
    assert fixed.status_code == 201


async def test_an_anonymous_caller_cannot_use_an_idempotency_key(client, services):
    """Two anonymous clients sending the same key and body would otherwise share one stored answer,
    the first client's live tokens included."""
    phone = new_phone()
    code = await send_code(client, services, phone)
    form = {"phone": phone, "code": code, "resident_id": resident_id(), "name": "赵六", "home_division": "330106"}

    refused = await client.post("/citizens", json=form, headers={"Idempotency-Key": "register-1"})
    registered = await client.post("/citizens", json=form)

    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "#/Idempotency-Key"
    assert registered.status_code == 201  # the refusal used up nothing, not even the code
    assert await services.db.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_keys_are_scoped_by_caller(client, services):
    """The same key and body from two admins creates two accounts' worth of answers, not one shared."""
    first, second = [await staff_token(client, services, "admin", "330000") for _ in range(2)]
    faq = {"question": "怎么办理?", "answer": "带身份证。"}
    headers = {"Idempotency-Key": "same-key"}

    answers = [await client.post("/admin/catalogue/faq", json=faq, headers=bearer(token) | headers)
               for token in (first, second)]

    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json()["id"] != answers[1].json()["id"] and "idempotent-replayed" not in answers[1].headers


async def test_a_stored_answer_is_sealed_and_expires_after_a_day(client, services):
    admin = await staff_token(client, services, "admin", "330000")
    account = {"username": "zj.sealed", "display_name": "封存", "password": "a-long-enough-password",
               "role": "receiving_officer", "division_code": "330000"}
    headers = {**bearer(admin), "Idempotency-Key": "staff-sealed"}
    first = await client.post("/admin/staff", json=account, headers=headers)
    stored = await services.db.pool.fetchval("SELECT body FROM idempotency_keys")
    assert first.status_code == 201 and b"zj.sealed" not in stored and first.json()["id"].encode() not in stored
    assert (await client.post("/admin/staff", json=account, headers=headers)).json() == first.json()

    await services.db.pool.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    # A day later the key is free again: a different request with it is not "key reused".
    other = await client.post("/admin/staff", json={**account, "username": "zj.later"}, headers=headers)
    await services.db.pool.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    purged = await purge_idempotency(services)

    assert other.status_code == 201 and "idempotent-replayed" not in other.headers
    assert purged.startswith("1 ") and await services.db.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_parallel_retries_with_one_key_create_once_and_answer_alike(client, services):
    admin = await staff_token(client, services, "admin", "330000")
    account = {"username": "zj.parallel", "display_name": "并行", "password": "a-long-enough-password",
               "role": "receiving_officer", "division_code": "330000"}
    headers = {**bearer(admin), "Idempotency-Key": "staff-parallel"}

    answers = await at_once(services, *(client.post("/admin/staff", json=account, headers=headers) for _ in range(4)))

    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    assert await services.db.pool.fetchval("SELECT count(*) FROM staff WHERE username = 'zj.parallel'") == 1
