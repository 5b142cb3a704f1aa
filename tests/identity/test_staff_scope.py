"""Staff guards: a role is needed for each endpoint and a division bounds what it reaches."""

from tests.factories import bearer, register_citizen, resident_id, staff_token


def same_answer(one, other) -> bool:
    """The same status and the same problem body, but for the request id each answer carries."""
    def body(response):
        return {k: v for k, v in response.json().items() if k not in ("instance", "request_id")}
    return one.status_code == other.status_code and body(one) == body(other)


async def test_an_officer_reads_citizens_of_their_own_province(client, services):
    citizen = await register_citizen(client, services, division="330106")
    me = (await client.get("/me", headers=bearer(citizen["access_token"]))).json()
    officer = await staff_token(client, services, "receiving_officer", "330000")

    response = await client.get(f"/staff/citizens/{me['id']}", headers=bearer(officer))

    assert response.status_code == 200
    assert response.json()["resident_id_masked"] == me["resident_id_masked"]
    actions = await services.db.pool.fetch(
        "SELECT action, actor_kind FROM audit_log WHERE record_id = $1 ORDER BY seq", me["id"])
    assert ("citizen.read", "staff") in [(a["action"], a["actor_kind"]) for a in actions]


async def test_an_officer_of_another_province_cannot_tell_a_citizen_from_an_unregistered_number(client, services):
    """The registration oracle of issue 15: a citizen outside the caller's division gets exactly the
    answer an unregistered resident ID gets, and every lookup, found or not, is audited."""
    citizen = await register_citizen(client, services, division="330106")
    me = (await client.get("/me", headers=bearer(citizen["access_token"]))).json()
    sichuan = await staff_token(client, services, "handling_officer", "510000")
    unregistered, nobody = resident_id("330106"), "00000000-0000-4000-8000-000000000000"

    by_id = await client.get(f"/staff/citizens/{me['id']}", headers=bearer(sichuan))
    missing_id = await client.get(f"/staff/citizens/{nobody}", headers=bearer(sichuan))
    by_number = await client.post("/staff/citizens/lookup", json={"resident_id": citizen["resident_id"]},
                                  headers=bearer(sichuan))
    missing_number = await client.post("/staff/citizens/lookup", json={"resident_id": unregistered},
                                       headers=bearer(sichuan))

    assert same_answer(by_id, missing_id) and same_answer(by_number, missing_number)
    assert by_id.status_code == by_number.status_code == 404 and "resident_id_masked" not in by_number.text
    refusals = await services.db.pool.fetch(
        "SELECT record_id, detail FROM audit_log WHERE action = 'citizen.read_refused'")
    # seq counts within one of several chains: compare as a set, not in order.
    def masked(number: str) -> str:
        return number[:4] + "*" * 10 + number[-4:]
    assert sorted((r["record_id"] or "", r["detail"]["reason"], r["detail"].get("resident_id") or "")
                  for r in refusals) == sorted([(me["id"], "out-of-reach", ""), (nobody, "missing", ""),
                                                (me["id"], "out-of-reach", masked(citizen["resident_id"])),
                                                ("", "missing", masked(unregistered))])


async def test_a_city_scope_does_not_reach_another_city_of_the_same_province(client, services):
    citizen = await register_citizen(client, services, division="330106")  # Hangzhou
    me = (await client.get("/me", headers=bearer(citizen["access_token"]))).json()
    ningbo = await staff_token(client, services, "handling_officer", "330200")

    response = await client.get(f"/staff/citizens/{me['id']}", headers=bearer(ningbo))

    assert response.status_code == 404


async def test_lookup_by_resident_id_uses_the_keyed_hash(client, services):
    citizen = await register_citizen(client, services, division="510107")
    officer = await staff_token(client, services, "receiving_officer", "510000")

    response = await client.post("/staff/citizens/lookup", json={"resident_id": citizen["resident_id"].lower()},
                                 headers=bearer(officer))

    assert response.status_code == 200
    assert response.json()["home_division"] == "510107"


async def test_a_citizen_token_cannot_use_staff_endpoints(client, services):
    citizen = await register_citizen(client, services)

    response = await client.post("/staff/citizens/lookup", json={"resident_id": citizen["resident_id"]},
                                 headers=bearer(citizen["access_token"]))

    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"


async def test_only_admins_create_staff_and_only_inside_their_division(client, services):
    officer = await staff_token(client, services, "receiving_officer", "330000")
    zhejiang_admin = await staff_token(client, services, "admin", "330000")
    account = {"username": "hz.new", "display_name": "新同事", "password": "a-long-enough-password",
               "role": "handling_officer", "division_code": "330100"}

    by_officer = await client.post("/admin/staff", json=account, headers=bearer(officer))
    inside = await client.post("/admin/staff", json=account, headers=bearer(zhejiang_admin))
    outside = await client.post("/admin/staff", json={**account, "username": "sc.new", "division_code": "510000"},
                                headers=bearer(zhejiang_admin))

    assert by_officer.status_code == 403
    assert inside.status_code == 201 and inside.json()["division_code"] == "330100"
    assert "password" not in inside.text
    assert outside.status_code == 403 and outside.json()["type"] == "/problems/outside-division"


async def test_a_wrong_staff_password_is_refused_without_saying_which_part_was_wrong(client, services):
    await staff_token(client, services, "admin", "000000")

    unknown = await client.post("/auth/staff/sign-in", json={"username": "nobody", "password": "x"})

    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "wrong username or password"


async def test_a_refused_read_inside_a_wider_transaction_is_still_audited(client, services):
    import pytest

    from backend.actors import Actor
    from backend.errors import NotFound

    citizen = await register_citizen(client, services, division="330106")
    me = (await client.get("/me", headers=bearer(citizen["access_token"]))).json()
    sichuan = await staff_token(client, services, "handling_officer", "510000")
    claims = services.tokens.read(sichuan)
    actor = Actor(kind="staff", id=claims.sub, role=claims.role, division=claims.division)

    with pytest.raises(NotFound):
        # As inside an idempotent request or a case's unit of work: the refusal rolls the outer transaction back.
        async with services.db.transaction():
            await services.identity.staff_read_citizen(actor, resident_id=citizen["resident_id"])

    refused = await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'citizen.read_refused' AND record_id = $1", me["id"])
    assert refused == 1


async def test_more_concurrent_refusals_than_pooled_connections_do_not_hang(client, services, settings):
    import asyncio

    from tests.concurrency import warm

    citizen = await register_citizen(client, services, division="330106")
    me = (await client.get("/me", headers=bearer(citizen["access_token"]))).json()
    sichuan = await staff_token(client, services, "handling_officer", "510000")
    attempts = 3 * settings.db_pool_max
    await warm(services)

    responses = await asyncio.wait_for(asyncio.gather(*(
        client.get(f"/staff/citizens/{me['id']}", headers=bearer(sichuan)) for _ in range(attempts))), timeout=60)

    assert [r.status_code for r in responses] == [404] * attempts
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'citizen.read_refused' AND record_id = $1", me["id"]) == attempts
