"""Each fault the issue lists: recognition without L3, a relative without authorisation, a pensioner
outside every roster, a proxy for a stopped pension, withdrawn face consent, silent signals from an
unregistered provider or too old; and the pre-check saying everything before an attempt is spent."""

import datetime as dt

from backend.china_time import today
from tests.eligibility.helpers import agency, pensioner, step_up, window_staff
from tests.factories import bearer, register_citizen, staff_token


def codes(response) -> list[str]:
    return [r["code"] for r in response.json()["reasons"]]


async def test_recognition_on_the_phone_needs_l3(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)

    refused = await client.post("/me/pension/recognitions", headers=bearer(citizen["access_token"]))

    assert refused.status_code == 403 and refused.json()["type"] == "/problems/step-up-required"
    assert refused.json()["required_level"] == "L3"
    assert await services.db.pool.fetchval("SELECT count(*) FROM pension_recognitions") == 0


async def test_a_relative_without_authorisation_is_answered_as_if_nobody_were_there(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    stranger = await register_citizen(client, services, division="330106")
    hangzhou = await window_staff(client, services)
    base = f"/me/represented/{citizen['id']}/pension"

    status = await client.get(base, headers=bearer(stranger["access_token"]))
    challenge = await client.post(f"{base}/face-challenges", json={}, headers=bearer(stranger["access_token"]))
    nobody = await client.get("/me/represented/00000000-0000-0000-0000-000000000000/pension",
                              headers=bearer(stranger["access_token"]))
    # Authorised at the 杭州 window, then revoked: refused again at once.
    granted = await client.post(f"/staff/citizens/{citizen['id']}/relatives", headers=bearer(hangzhou),
                                json={"relative_resident_id": stranger["resident_id"], "relationship": "other"})
    allowed = await client.get(base, headers=bearer(stranger["access_token"]))
    revoked = await client.delete(f"/me/relatives/{granted.json()['id']}", headers=bearer(citizen["access_token"]))
    after = await client.get(base, headers=bearer(stranger["access_token"]))

    assert status.status_code == challenge.status_code == nobody.status_code == 404
    assert status.json()["detail"] == nobody.json()["detail"]
    assert granted.status_code == 201 and granted.json()["authorised_via"] == "service-window"
    assert allowed.status_code == 200 and revoked.status_code == 204 and after.status_code == 404
    assert await services.db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'relative.refused'") == 4


async def test_at_most_three_relatives_and_only_by_l3_or_at_a_window(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    relatives = [await register_citizen(client, services, division="330106") for _ in range(4)]

    at_l1 = await client.post("/me/relatives", headers=bearer(citizen["access_token"]),
                              json={"relative_resident_id": relatives[0]["resident_id"], "relationship": "child"})
    token = await step_up(client, citizen)
    answers = [await client.post("/me/relatives", headers=bearer(token),
                                 json={"relative_resident_id": r["resident_id"], "relationship": "child"})
               for r in relatives]
    chengdu_officer_elsewhere = await window_staff(client, services, "440100")
    outside = await client.post(f"/staff/citizens/{citizen['id']}/relatives", headers=bearer(chengdu_officer_elsewhere),
                                json={"relative_resident_id": relatives[3]["resident_id"], "relationship": "child"})

    assert at_l1.status_code == 403 and at_l1.json()["type"] == "/problems/step-up-required"
    assert [a.status_code for a in answers] == [201, 201, 201, 409]
    assert outside.status_code == 404


async def test_a_pensioner_outside_every_roster_is_told_so(client, services):
    await agency(client, services)
    citizen = await register_citizen(client, services, division="510107")

    status = await client.get("/me/pension", headers=bearer(citizen["access_token"]))
    precheck = await client.get("/me/pension/precheck", headers=bearer(citizen["access_token"]))

    assert status.status_code == 404
    assert precheck.json()["ready"] is False and codes(precheck) == ["not-on-roster"]
    assert precheck.json()["methods"] == []
    reason = precheck.json()["reasons"][0]
    assert reason["zh"] and reason["en"] and reason["todo_zh"] and reason["todo_en"]


async def test_no_proxy_for_a_deceased_pensioner(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    son = await register_citizen(client, services, division="330106")
    hangzhou = await window_staff(client, services)
    await client.post(f"/staff/citizens/{citizen['id']}/relatives", headers=bearer(hangzhou),
                      json={"relative_resident_id": son["resident_id"], "relationship": "child"})
    stopped = await client.patch(f"/staff/pension/roster/{citizen['entry']['id']}", json={"stop_reason": "deceased"},
                                 headers=bearer(officer))

    challenge = await client.post(f"/me/represented/{citizen['id']}/pension/face-challenges", json={},
                                  headers=bearer(son["access_token"]))
    declared = await client.post(f"/staff/pension/roster/{citizen['entry']['id']}/declarations",
                                 params={"method": "home-visit"}, headers=bearer(hangzhou),
                                 json={"statement": "s", "signed_by": "x", "reason_no_face": "r"})

    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert challenge.status_code == 409 and codes(challenge) == ["status-stopped"]
    assert "死亡" in challenge.json()["reasons"][0]["zh"] and "deceased" in challenge.json()["reasons"][0]["en"]
    assert declared.status_code == 409
    assert await services.db.pool.fetchval("SELECT count(*) FROM pension_recognitions") == 0


async def test_withdrawn_face_consent_takes_face_away_and_leaves_the_other_ways(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    token = await step_up(client, citizen)

    withdrawn = await client.delete("/me/face-recognition-consent", headers=bearer(token))
    precheck = await client.get("/me/pension/precheck", headers=bearer(token))
    refused = await client.post("/me/pension/recognitions", headers=bearer(token))

    assert withdrawn.status_code == 200 and withdrawn.json()["given"] is False
    assert "no-face-consent" in codes(precheck) and precheck.json()["ready"] is False
    assert precheck.json()["methods"] == ["assisted-counter", "home-visit"]
    assert refused.status_code == 409 and codes(refused) == ["no-face-consent"]
    assert refused.json()["methods"] == ["assisted-counter", "home-visit"]


async def test_the_precheck_names_roster_data_to_fix_missing_enrolment_and_an_early_attempt(client, services):
    officer = await agency(client, services)
    flagged = await pensioner(client, services, officer, enrol=False, consent=False)
    early = await pensioner(client, services, officer, due_in_days=200)
    await client.patch(f"/staff/pension/roster/{flagged['entry']['id']}", headers=bearer(officer),
                       json={"data_issue": "银行账户与身份信息不一致"})

    flagged_check = await client.get("/me/pension/precheck", headers=bearer(flagged["access_token"]))
    early_check = await client.get("/me/pension/precheck", headers=bearer(early["access_token"]))

    assert codes(flagged_check) == ["roster-data-issue", "not-enrolled", "no-face-consent"]
    assert "银行账户与身份信息不一致" in flagged_check.json()["reasons"][0]["zh"]
    assert "window" in flagged_check.json()["reasons"][1]["todo_en"]
    assert codes(early_check) == ["not-yet-open"] and early_check.json()["methods"] == []


async def test_signals_from_an_unregistered_provider_or_too_old_are_refused(client, services):
    officer = await agency(client, services, silent_max_age_days=30)
    citizen = await pensioner(client, services, officer, enrol=False, consent=False)
    admin = await staff_token(client, services, "admin", "000000")
    provider = (await client.post("/admin/data-providers", headers=bearer(admin), json={
        "id": "hz-bank", "name": "杭州某银行", "division": "330100", "signal_kinds": ["counter_collection"]})).json()
    key = {"X-Provider-Key": provider["credential"]}

    def signal(days_ago: int, reference: str, kind: str = "counter_collection") -> dict:
        return {"resident_id": citizen["resident_id"], "kind": kind, "place_division": "330106",
                "occurred_on": (today() - dt.timedelta(days=days_ago)).isoformat(), "source_reference": reference}

    unregistered = await client.post("/data-providers/signals", json=signal(1, "A"),
                                     headers={"X-Provider-Key": "nobody:secret"})
    wrong_secret = await client.post("/data-providers/signals", json=signal(1, "A"),
                                     headers={"X-Provider-Key": "hz-bank:not-the-secret"})
    ancient = await client.post("/data-providers/signals", json=signal(400, "B"), headers=key)
    other_kind = await client.post("/data-providers/signals", json=signal(1, "C", "medical_settlement"), headers=key)
    too_old_for_agency = await client.post("/data-providers/signals", json=signal(45, "D"), headers=key)
    run = await services.eligibility.silent_run()

    assert unregistered.status_code == wrong_secret.status_code == 401
    guesses = [await client.post("/data-providers/signals", json=signal(1, "A"), headers={"X-Provider-Key": f"hz-bank:{i}"})
               for i in range(20)]
    assert guesses[-1].status_code == 429 and "Retry-After" in guesses[-1].headers
    assert ancient.status_code == 422 and ancient.json()["errors"][0]["pointer"] == "#/occurred_on"
    assert other_kind.status_code == 422 and other_kind.json()["errors"][0]["pointer"] == "#/kind"
    assert too_old_for_agency.status_code == 202
    assert run.recognised == 0
    assert await services.db.pool.fetchval("SELECT count(*) FROM pension_recognitions") == 0


async def test_the_paying_agency_receives_a_signed_webhook(client, services):
    from backend.events import signing
    from backend.events.worker import Worker
    from tests.events.conftest import Receiver
    from tests.events.helpers import subscribe
    from tests.server import free_port

    receiver = Receiver(free_port())
    receiver.start()
    try:
        _, secret = await subscribe(services, receiver.url, name="sc-agency", kinds=("pension.*",), division="510000")
        officer = await agency(client, services)
        citizen = await pensioner(client, services, officer)
        token = await step_up(client, citizen)
        recognised = await client.post("/me/pension/recognitions", headers=bearer(token))
        await Worker(services, []).run_until_idle()
    finally:
        receiver.stop()

    (request,) = receiver.received
    assert signing.verify(secret, request.headers, request.body) == recognised.json()["event_id"]
    body = receiver.bodies()[0]
    assert body["kind"] == "pension.recognised" and body["payload"]["method"] == "face-phone"
    assert body["payload"]["residence_division"] == "330106"
