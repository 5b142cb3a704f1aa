"""Every way of being recognised, over HTTP, for the cross-province pensioner: paid by 四川 (510000),
living in 杭州 (330106). Each ends the same way: the record, the pension-eligibility e-certificate with
the method, a new due date 12 months on, and an event for the paying agency."""

import datetime as dt
import uuid

from backend.actors import Actor
from backend.china_time import today
from backend.face.capture import FaceClient
from tests.eligibility.helpers import AGENCY, RESIDENCE, agency, files, frames_for, pensioner, step_up, window_staff
from tests.factories import bearer, register_citizen


async def assert_recognised(client, services, citizen: dict, body: dict, method: str) -> None:
    """The record, the certificate, the event and the status page all say `method`."""
    next_due = today().replace(year=today().year + 1) if not (today().month == 2 and today().day == 29) else None
    assert body["method"] == method and body["recognised_on"] == today().isoformat()
    if next_due:
        assert body["next_due"] == next_due.isoformat()
    certificate = await services.db.pool.fetchrow(
        "SELECT certificate_type, fields, citizen_id FROM certificates WHERE id = $1", uuid.UUID(body["certificate_id"]))
    assert certificate["certificate_type"] == "pension_eligibility_record"
    assert certificate["fields"]["method"] == method and certificate["fields"]["paying_division"] == AGENCY
    assert str(certificate["citizen_id"]) == citizen["id"]
    event = await services.db.pool.fetchrow("SELECT kind, division, payload FROM event_outbox WHERE id = $1",
                                            uuid.UUID(body["event_id"]))
    assert event["kind"] == "pension.recognised" and event["division"] == AGENCY
    assert event["payload"]["method"] == method and event["payload"]["residence_division"] == RESIDENCE
    assert "resident_id" not in str(event["payload"]) and citizen["resident_id"] not in str(event["payload"])
    status = (await client.get("/me/pension", headers=bearer(citizen["access_token"]))).json()
    assert status["standing"] == "not-due" and status["last"]["method"] == method
    inbox = (await client.get("/me/notifications", headers=bearer(citizen["access_token"]))).json()["items"]
    assert [n["kind"] for n in inbox] == ["pension.recognised"] and status["next_due"] in inbox[0]["body"]["zh"]
    texted = await services.db.pool.fetchval("SELECT count(*) FROM sms_outbox WHERE body LIKE '%资格认证已完成%'")
    assert texted == (0 if method in ("face-phone", "silent") else 1)  # someone else acted: the pensioner is texted


async def test_self_on_the_phone_with_the_l3_liveness_check(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)

    precheck = await client.get("/me/pension/precheck", headers=bearer(citizen["access_token"]))
    token = await step_up(client, citizen)
    recognised = await client.post("/me/pension/recognitions", headers=bearer(token))

    assert precheck.json()["ready"] is True and precheck.json()["reasons"] == []
    assert recognised.status_code == 201, recognised.text
    await assert_recognised(client, services, citizen, recognised.json(), "face-phone")
    evidence = await services.db.pool.fetchval("SELECT evidence FROM pension_recognitions")
    assert evidence["face"]["score"] >= services.face.policy.threshold and evidence["face"]["challenge"]
    again = await client.post("/me/pension/recognitions", headers=bearer(token))
    assert again.status_code == 409 and again.json()["reasons"][0]["code"] == "not-yet-open"


async def test_family_proxy_checks_the_pensioners_face_on_the_relatives_phone(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    daughter = await register_citizen(client, services, division="330106", name="王小红")
    daughter_id = str(services.tokens.read(daughter["access_token"]).sub)
    l3 = await step_up(client, citizen)
    authorised = await client.post("/me/relatives", headers=bearer(l3),
                                   json={"relative_resident_id": daughter["resident_id"], "relationship": "child"})
    represented = await client.get("/me/represented", headers=bearer(daughter["access_token"]))
    base = f"/me/represented/{citizen['id']}/pension"

    challenge = (await client.post(f"{base}/face-challenges", json={"movement": "turn"},
                                   headers=bearer(daughter["access_token"]))).json()
    recognised = await client.post(f"{base}/face-challenges/{challenge['challenge_id']}/recognition",
                                   files=files(frames_for(challenge)), headers=bearer(daughter["access_token"]))

    assert authorised.status_code == 201, authorised.text
    assert [r["citizen_id"] for r in represented.json()] == [citizen["id"]]
    assert recognised.status_code == 201, recognised.text
    assert recognised.json()["proxy"] is True and "tokens" not in recognised.json()
    row = await services.db.pool.fetchrow("SELECT actor_id, proxy_citizen_id FROM pension_recognitions")
    assert row["actor_id"] == daughter_id and str(row["proxy_citizen_id"]) == daughter_id
    audit = await services.db.pool.fetchrow(
        "SELECT actor_id, record_id, detail FROM audit_log WHERE action = 'face.verified_for'")
    assert audit["actor_id"] == daughter_id and audit["record_id"] == citizen["id"]
    evidence = await services.db.pool.fetchval("SELECT evidence FROM pension_recognitions")
    assert (evidence["face"]["captured_by"], evidence["face"]["capture"]) == (f"citizen:{daughter_id}", "unattested")
    session = await services.db.pool.fetchval(
        "SELECT assurance_level FROM auth_sessions WHERE principal_id = $1", uuid.UUID(daughter_id))
    assert session == "L1"  # the relative's own session is not raised
    await assert_recognised(client, services, citizen, recognised.json(), "family-proxy")
    relative_view = await client.get(base, headers=bearer(daughter["access_token"]))
    assert relative_view.status_code == 200 and relative_view.json()["last"]["method"] == "family-proxy"


async def test_residence_staff_in_hangzhou_assist_a_pensioner_paid_by_sichuan(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    hangzhou = await window_staff(client, services)
    entry = citizen["entry"]["id"]

    seen = await client.get(f"/staff/pension/roster/{entry}", headers=bearer(hangzhou))
    challenge = (await client.post(f"/staff/pension/roster/{entry}/face-challenges", json={},
                                   headers=bearer(hangzhou))).json()
    url = f"/staff/pension/roster/{entry}/face-challenges/{challenge['challenge_id']}/recognition"
    keyed = bearer(hangzhou) | {"Idempotency-Key": "assist-1"}
    recognised = await client.post(url, params={"method": "assisted-counter"}, files=files(frames_for(challenge)),
                                   headers=keyed)
    retried = await client.post(url, params={"method": "assisted-counter"}, files=files(frames_for(challenge)),
                                headers=keyed)

    assert seen.status_code == 200 and seen.json()["residence_division"] == RESIDENCE
    assert recognised.status_code == 201, recognised.text
    assert retried.status_code == 201 and retried.json() == recognised.json()
    assert retried.headers["idempotent-replayed"] == "true"
    assert recognised.json()["place_division"] == "330100"
    await assert_recognised(client, services, citizen, recognised.json(), "assisted-counter")


async def test_a_booked_home_visit_completed_with_a_signed_declaration(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, enrol=False, consent=False)
    slot = (today() + dt.timedelta(days=3)).isoformat()
    booked = await client.post("/me/pension/bookings", headers=bearer(citizen["access_token"]),
                               json={"kind": "home-visit", "slot_date": slot, "slot_part": "morning",
                                     "note": "卧床，请上门"})
    hangzhou = await window_staff(client, services, "330106", "handling_officer")
    visits = await client.get("/staff/pension/visits", headers=bearer(hangzhou))

    recognised = await client.post(
        f"/staff/pension/roster/{citizen['entry']['id']}/declarations",
        params={"method": "home-visit", "booking_id": booked.json()["id"]}, headers=bearer(hangzhou),
        json={"statement": "本人确认仍健在并符合领取条件", "signed_by": "王建国", "witness": "社区工作人员",
              "reason_no_face": "卧床且未登记人像"})

    assert booked.status_code == 201, booked.text
    assert [v["id"] for v in visits.json()] == [booked.json()["id"]]
    assert recognised.status_code == 201, recognised.text
    await assert_recognised(client, services, citizen, recognised.json(), "home-visit")
    booking = await services.db.pool.fetchrow("SELECT status, recognition_id FROM visit_bookings")
    assert booking["status"] == "completed" and str(booking["recognition_id"]) == recognised.json()["id"]
    assert (await client.get("/staff/pension/visits", headers=bearer(hangzhou))).json() == []


async def test_at_a_township_kiosk(client, services):
    """The kiosk stream's HTTP layer calls this service; here it is called as the kiosk would."""
    from tests.eligibility.helpers import frames_for as frames

    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    kiosk = Actor(kind="kiosk", id="kiosk-xihu-01", division=RESIDENCE, session_id="kiosk-session-1")
    device = FaceClient(address="10.0.0.5", device="kiosk-xihu-01", capture="kiosk:kiosk-xihu-01")

    challenge = await services.eligibility.kiosk_challenge(kiosk, uuid.UUID(citizen["id"]), "any", device)
    view = await services.eligibility.kiosk_recognise(
        kiosk, uuid.UUID(citizen["id"]), challenge.challenge_id,
        frames({"steps": [{"action": s.action} for s in challenge.steps]}), device)

    assert view.place_division == RESIDENCE
    await assert_recognised(client, services, citizen, {**__import__("msgspec").to_builtins(view)}, "kiosk")
    evidence = await services.db.pool.fetchval("SELECT evidence FROM pension_recognitions")
    assert evidence["face"]["capture"] == evidence["face"]["captured_by"] == "kiosk:kiosk-xihu-01"


async def test_silent_recognition_from_a_medical_settlement_in_hangzhou(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, enrol=False, consent=False)
    from tests.factories import staff_token

    admin = await staff_token(client, services, "admin", "000000")
    provider = await client.post("/admin/data-providers", headers=bearer(admin), json={
        "id": "hz-medical", "name": "杭州市医疗保障局", "division": "330100", "signal_kinds": ["medical_settlement"]})
    seen_on = today() - dt.timedelta(days=5)
    signal = {"resident_id": citizen["resident_id"], "kind": "medical_settlement", "occurred_on": seen_on.isoformat(),
              "place_division": "330106", "source_reference": "HZ-MED-2026-000123"}
    key = {"X-Provider-Key": provider.json()["credential"]}
    reported = await client.post("/data-providers/signals", json=signal, headers=key)
    twice = await client.post("/data-providers/signals", json=signal, headers=key)

    run = await services.eligibility.silent_run()

    assert provider.status_code == 201 and reported.status_code == 202 and twice.status_code == 202
    assert await services.db.pool.fetchval("SELECT count(*) FROM life_signals") == 1
    assert run.recognised == 1
    status = (await client.get("/me/pension", headers=bearer(citizen["access_token"]))).json()
    assert status["last"]["method"] == "silent"
    assert "杭州市医疗保障局" in status["summary_zh"] and seen_on.isoformat() in status["summary_zh"]
    assert "nothing to do" in status["summary_en"]
    body = (await services.db.pool.fetchrow("SELECT certificate_id, event_id, next_due FROM pension_recognitions"))
    await assert_recognised(client, services, citizen, {
        "method": "silent", "recognised_on": today().isoformat(), "next_due": body["next_due"].isoformat(),
        "certificate_id": str(body["certificate_id"]), "event_id": str(body["event_id"])}, "silent")
    assert (await services.eligibility.silent_run()).recognised == 0  # used, and no longer open


async def test_an_agencys_later_check_after_unattested_phone_recognitions(client, services):
    """`unattested_in_a_row: 1`: after one phone recognition from an unattested capture, the next must
    be stronger; a kiosk one (or attested, staff, silent) ends the run."""
    officer = await agency(client, services, opens_days_before=366, unattested_in_a_row=1)
    citizen = await pensioner(client, services, officer)
    token = await step_up(client, citizen)

    first = await client.post("/me/pension/recognitions", headers=bearer(token))
    precheck = (await client.get("/me/pension/precheck", headers=bearer(token))).json()
    second = await client.post("/me/pension/recognitions", headers=bearer(token))
    kiosk = Actor(kind="kiosk", id="kiosk-xihu-01", division=RESIDENCE)
    device = FaceClient(address="10.0.0.5", device="kiosk-xihu-01", capture="kiosk:kiosk-xihu-01")
    challenge = await services.eligibility.kiosk_challenge(kiosk, uuid.UUID(citizen["id"]), "any", device)
    await services.eligibility.kiosk_recognise(kiosk, uuid.UUID(citizen["id"]), challenge.challenge_id, frames_for(
        {"steps": [{"action": s.action} for s in challenge.steps]}), device)
    after_kiosk = (await client.get("/me/pension/precheck", headers=bearer(token))).json()

    assert first.status_code == 201, first.text
    assert precheck["ready"] is True and "face-phone" in precheck["methods"]
    assert [r["code"] for r in precheck["reasons"]] == ["attested-capture-required"]
    assert second.status_code == 409 and second.json()["reasons"][0]["code"] == "attested-capture-required"
    assert "kiosk" in second.json()["methods"]
    assert "attested-capture-required" not in [r["code"] for r in after_kiosk["reasons"]]
    methods = [r["method"] for r in await services.db.pool.fetch("SELECT method FROM pension_recognitions "
                                                                 "ORDER BY recognised_at")]
    assert methods == ["face-phone", "kiosk"]


async def test_a_key_used_for_an_assisted_declaration_is_refused_for_a_home_visit_with_the_same_body(client, services):
    """One Idempotency-Key names the query too: the home visit is another request, refused (422), not
    answered with the assisted recognition, and its booking is left as it was."""
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, enrol=False, consent=False)
    booked = await client.post("/me/pension/bookings", headers=bearer(citizen["access_token"]),
                               json={"kind": "home-visit", "slot_date": (today() + dt.timedelta(days=3)).isoformat(),
                                     "slot_part": "morning", "note": "卧床，请上门"})
    hangzhou = await window_staff(client, services, "330106", "handling_officer")
    url = f"/staff/pension/roster/{citizen['entry']['id']}/declarations"
    body = {"statement": "本人确认仍健在并符合领取条件", "signed_by": "王建国", "witness": "社区工作人员",
            "reason_no_face": "卧床且未登记人像"}
    headers = {**bearer(hangzhou), "Idempotency-Key": "declaration-1"}

    assisted = await client.post(url, params={"method": "assisted-counter"}, headers=headers, json=body)
    visit = await client.post(url, params={"method": "home-visit", "booking_id": booked.json()["id"]},
                              headers=headers, json=body)

    assert assisted.status_code == 201, assisted.text
    assert visit.status_code == 422 and visit.json()["type"] == "/problems/idempotency-key-reused", visit.text
    assert await services.db.pool.fetchval("SELECT status FROM visit_bookings") == "booked"
