"""Pension recognition at a township kiosk, on the pension service's own rules: the resident signs in
with the ID card, registers their face from the chip photo and agrees to face recognition if not done
yet, and follows the liveness challenge in front of the kiosk camera."""

from tests.eligibility.helpers import RESIDENCE, agency, files, frames_for, pensioner
from tests.kiosk.conftest import id_card, session, sign_in


async def test_a_pensioner_is_recognised_at_the_kiosk(client, services, register_kiosk):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, enrol=False, consent=False)
    device = await register_kiosk(division=RESIDENCE)
    card = id_card(citizen["resident_id"], "王建国", photo="obama3.jpg")
    resident = session(await sign_in(device, card, live_photo="obama2.jpg"))

    before = (await device.client.get("/kiosk/v1/pension", headers=resident)).json()
    enrolled = await device.client.post("/kiosk/v1/session/face-enrolment", headers=resident, files={
        "chip_photo": ("chip.png", card["chip_photo"], "image/png")},
        data={k: v for k, v in card.items() if k != "chip_photo"} | {"consent": "true"})
    consent = await device.client.post("/kiosk/v1/pension/face-consent", headers=resident)
    ready = (await device.client.get("/kiosk/v1/pension", headers=resident)).json()
    challenge = await device.client.post("/kiosk/v1/pension/challenges", json={"movement": "turn"}, headers=resident)
    answer = await device.client.post(f"/kiosk/v1/pension/challenges/{challenge.json()['challenge_id']}/answer",
                                      files=files(frames_for(challenge.json(), "obama.jpg")), headers=resident)

    assert {r["code"] for r in before["precheck"]["reasons"]} >= {"not-enrolled", "no-face-consent"}
    assert before["precheck"]["ready"] is False and before["status"]["summary_zh"]
    assert enrolled.status_code == 201 and consent.status_code == 200 and consent.json()["given"] is True
    assert ready["precheck"]["ready"] is True and "kiosk" in ready["precheck"]["methods"]
    assert challenge.status_code == 201, challenge.text
    assert answer.status_code == 201, answer.text
    recognised = answer.json()
    assert recognised["method"] == "kiosk" and recognised["place_division"] == RESIDENCE
    assert recognised["source"] == f"kiosk {device.id}"
    evidence = await services.db.pool.fetchval("SELECT evidence FROM pension_recognitions")
    assert evidence["face"]["capture"] == f"kiosk:{device.id}"
    after = (await device.client.get("/kiosk/v1/pension", headers=resident)).json()
    assert after["status"]["last"]["method"] == "kiosk"


async def test_a_resident_not_on_any_roster_is_told_so(client, services, register_kiosk):
    from tests.factories import resident_id

    device = await register_kiosk()
    resident = session(await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg")))

    response = await device.client.get("/kiosk/v1/pension", headers=resident)

    assert response.status_code == 404 and response.json()["type"] == "/problems/not-found"


async def test_an_authorised_relative_signed_in_at_the_kiosk_helps_the_pensioner(client, services, register_kiosk):
    from backend.actors import Actor
    from backend.eligibility.schemas import RelativeAuthorise
    from tests.factories import register_citizen, resident_id

    officer = await agency(client, services)
    elder = await pensioner(client, services, officer)  # enrolled (obama3.jpg) and consented
    helper = await register_citizen(client, services, name="陈静", division=RESIDENCE)
    await services.eligibility.relatives.authorise(Actor.system(), __import__("uuid").UUID(elder["id"]),
                                                   RelativeAuthorise(relative_resident_id=helper["resident_id"],
                                                                     relationship="child"))
    stranger_number = resident_id(RESIDENCE)
    device = await register_kiosk(division=RESIDENCE)
    relative = session(await sign_in(device, id_card(helper["resident_id"], "陈静", photo="biden.jpg"),
                                     live_photo="biden.jpg"))

    acting = (await device.client.get("/kiosk/v1/pension/acting-for", headers=relative)).json()
    status = await device.client.get("/kiosk/v1/pension", params={"for": elder["id"]}, headers=relative)
    challenge = (await device.client.post("/kiosk/v1/pension/challenges", params={"for": elder["id"]},
                                          json={"movement": "nod"}, headers=relative)).json()
    answer = await device.client.post(f"/kiosk/v1/pension/challenges/{challenge['challenge_id']}/answer",
                                      params={"for": elder["id"]}, files=files(frames_for(challenge, "obama.jpg")),
                                      headers=relative)

    assert [a["citizen_id"] for a in acting] == [elder["id"]]
    assert status.status_code == 200 and status.json()["face_consent"] is None
    assert answer.status_code == 201, answer.text
    assert answer.json()["method"] == "kiosk" and answer.json()["proxy"] is True
    helper_id = await services.db.pool.fetchval("SELECT id::text FROM citizens WHERE name = '陈静'")
    checked = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE action = 'face.verified_for'")
    assert checked["actor_kind"] == "kiosk" and checked["actor_id"] == device.id
    assert checked["detail"]["assisted_by"] == f"relative:{helper_id}"
    assert checked["detail"]["capture"] == f"kiosk:{device.id}" and checked["record_id"] == elder["id"]
    # Someone the pensioner never authorised gets the answer a missing person gets.
    stranger = session(await sign_in(device, id_card(stranger_number, photo="obama.jpg"), live_photo="obama2.jpg"))
    refused = await device.client.get("/kiosk/v1/pension", params={"for": elder["id"]}, headers=stranger)
    assert refused.status_code == 404
