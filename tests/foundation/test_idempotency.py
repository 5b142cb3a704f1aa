"""A create retried with the same Idempotency-Key returns the first answer and creates nothing new."""

from tests.factories import bearer, new_phone, resident_id, send_code, staff_token


async def test_a_retried_registration_returns_the_first_answer(client, services):
    phone = new_phone()
    code = await send_code(client, services, phone)
    form = {"phone": phone, "code": code, "resident_id": resident_id(), "name": "赵六", "home_division": "330106"}
    headers = {"Idempotency-Key": "register-1"}

    first = await client.post("/citizens", json=form, headers=headers)
    retry = await client.post("/citizens", json=form, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert await services.db.pool.fetchval("SELECT count(*) FROM citizens") == 1


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


async def test_a_failed_create_does_not_burn_the_key(client, services):
    admin = await staff_token(client, services, "admin", "330000")
    bad = {"username": "zj.c", "display_name": "丙", "password": "a-long-enough-password",
           "role": "receiving_officer", "division_code": "510000"}
    headers = {**bearer(admin), "Idempotency-Key": "staff-2"}

    refused = await client.post("/admin/staff", json=bad, headers=headers)
    fixed = await client.post("/admin/staff", json={**bad, "division_code": "330100"}, headers=headers)

    assert refused.status_code == 403
    assert fixed.status_code == 201
