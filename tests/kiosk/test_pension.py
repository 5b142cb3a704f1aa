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
