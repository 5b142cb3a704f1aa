"""Citizen sign-in with phone and one-time code, tokens, refresh rotation, revocation, step-up."""

import uuid

from backend.actors import Actor
from tests.concurrency import at_once
from tests.factories import bearer, new_phone, register_citizen, resident_id, send_code


async def test_registration_stores_the_resident_id_encrypted_and_shows_it_masked(client, services):
    tokens = await register_citizen(client, services, division="330106", name="陈静")

    me = await client.get("/me", headers=bearer(tokens["access_token"]))

    assert me.status_code == 200
    body = me.json()
    number = tokens["resident_id"]
    assert body["resident_id_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert body["phone_masked"] == tokens["phone"][:3] + "****" + tokens["phone"][-4:]
    assert number not in me.text and tokens["phone"] not in me.text
    row = await services.db.pool.fetchrow("SELECT resident_id_enc, resident_id_hash FROM citizens")
    assert number.encode() not in row["resident_id_enc"]
    assert services.cipher.decrypt(row["resident_id_enc"], purpose="citizen.resident_id") == number


async def test_an_invalid_resident_id_is_refused_with_the_reason(client, services):
    phone = new_phone()
    code = await send_code(client, services, phone)
    number = resident_id()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")

    response = await client.post("/citizens", json={
        "phone": phone, "code": code, "resident_id": wrong, "name": "王五", "home_division": "330106"})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    error = response.json()["errors"][0]
    assert error["pointer"] == "#/resident_id"
    assert f"check character should be {number[17]}" in error["detail"]
    assert await services.db.pool.fetchval("SELECT count(*) FROM citizens") == 0


async def test_a_blank_name_is_refused_at_the_field_and_leaves_the_code_usable(client, services):
    phone = new_phone()
    code = await send_code(client, services, phone)
    body = {"phone": phone, "code": code, "resident_id": resident_id(), "home_division": "330106"}

    blanks = [await client.post("/citizens", json={**body, "name": name}) for name in (" \u3000 ", "\u200b\u200d")]
    named = await client.post("/citizens", json={**body, "name": "王五"})

    for blank in blanks:  # spaces, or zero-width characters only
        assert blank.status_code == 422 and blank.json()["errors"][0]["pointer"] == "#/name", blank.text
    assert named.status_code == 201, named.text


async def test_sign_in_with_a_code_and_the_code_works_only_once(client, services):
    citizen = await register_citizen(client, services)
    code = await send_code(client, services, citizen["phone"])

    first = await client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": code})
    again = await client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": code})

    assert first.status_code == 200 and first.json()["assurance_level"] == "L1"
    assert again.status_code == 422
    assert again.json()["errors"][0]["pointer"] == "#/code"


async def test_a_wrong_code_is_refused(client, services):
    citizen = await register_citizen(client, services)
    code = await send_code(client, services, citizen["phone"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    response = await client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": wrong})

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-error"


async def test_an_unregistered_phone_is_told_to_register(client, services):
    phone = new_phone()
    code = await send_code(client, services, phone)

    response = await client.post("/auth/sign-in", json={"phone": phone, "code": code})

    assert response.status_code == 404
    assert "register" in response.json()["detail"]


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(client, services):
    tokens = await register_citizen(client, services)

    rotated = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await client.get("/me", headers=bearer(new["access_token"]))).status_code == 200

    reuse = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    # The theft response: the whole session is gone, including the newest tokens.
    assert (await client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})).status_code == 401
    assert (await client.get("/me", headers=bearer(new["access_token"]))).status_code == 401
    revoked = await services.db.pool.fetchval("SELECT revoked_reason FROM auth_sessions")
    assert revoked == "refresh token reused"


async def test_sign_out_revokes_access_and_refresh_tokens(client, services):
    tokens = await register_citizen(client, services)

    out = await client.post("/auth/sign-out", headers=bearer(tokens["access_token"]))

    assert out.status_code == 204
    assert (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_a_tampered_or_missing_token_is_unauthenticated(client, services):
    tokens = await register_citizen(client, services)
    tampered = tokens["access_token"][:-2] + ("AA" if not tokens["access_token"].endswith("AA") else "BB")

    assert (await client.get("/me")).status_code == 401
    response = await client.get("/me", headers=bearer(tampered))
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/unauthenticated"


async def test_changing_the_phone_needs_step_up_to_l2(client, services):
    tokens = await register_citizen(client, services)
    new_number = new_phone()
    code = await send_code(client, services, new_number)

    refused = await client.put("/me/phone", json={"phone": new_number, "code": code},
                               headers=bearer(tokens["access_token"]))

    assert refused.status_code == 403
    problem = refused.json()
    assert problem["type"] == "/problems/step-up-required"
    assert (problem["required_level"], problem["current_level"]) == ("L2", "L1")


async def test_after_step_up_the_phone_change_goes_through(client, services):
    tokens = await register_citizen(client, services)
    claims = services.tokens.read(tokens["access_token"])
    actor = Actor(kind="citizen", id=claims.sub, session_id=claims.session_id)
    async with services.db.transaction() as conn:
        # The face check (issue 6) calls exactly this after a successful match.
        elevated = await services.identity.elevate(conn, actor, "L2", "test")
    new_number = new_phone()
    code = await send_code(client, services, new_number)

    response = await client.put("/me/phone", json={"phone": new_number, "code": code},
                                headers=bearer(elevated.access_token))

    assert response.status_code == 200
    assert response.json()["phone_masked"] == new_number[:3] + "****" + new_number[-4:]
    session = await services.db.pool.fetchrow("SELECT assurance_level FROM auth_sessions WHERE id = $1",
                                              uuid.UUID(claims.session_id))
    assert session["assurance_level"] == "L2"


async def test_concurrent_refreshes_with_one_token_rotate_it_once(client, services):
    """Four refreshes with the same refresh token at once: one rotates it; the others are reuse, which
    revokes the session — never four new token pairs."""
    tokens = await register_citizen(client, services)

    answers = await at_once(services, *(client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
                                        for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401], [a.text for a in answers]
    assert await services.db.pool.fetchval("SELECT count(*) FROM refresh_tokens") == 2  # the first and one rotation
    assert await services.db.pool.fetchval("SELECT revoked_reason FROM auth_sessions") == "refresh token reused"


async def test_concurrent_sign_ins_with_one_code_use_it_once(client, services):
    citizen = await register_citizen(client, services)
    code = await send_code(client, services, citizen["phone"])

    answers = await at_once(services, *(client.post("/auth/sign-in", json={"phone": citizen["phone"], "code": code})
                                        for _ in range(4)), hold_redis_writes=True)

    assert sorted(a.status_code for a in answers) == [200, 422, 422, 422], [a.text for a in answers]
    assert await services.db.pool.fetchval("SELECT count(*) FROM auth_sessions") == 2  # registration and one sign-in
