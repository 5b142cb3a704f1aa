"""Residents sign in at a kiosk with their ID card: the live face against the chip photo, a session
only that kiosk can use, ended by removing the card or by idling."""

import uuid

from tests.concurrency import at_once
from tests.factories import bearer, register_citizen, resident_id, staff_token
from tests.kiosk.conftest import id_card, session, sign_in


async def test_a_registered_citizen_signs_in_with_card_and_face(client, services, register_kiosk):
    citizen = await register_citizen(client, services, name="王建国")
    device = await register_kiosk()
    card = id_card(citizen["resident_id"], "王建国", photo="obama.jpg")

    signed_in = await sign_in(device, card, live_photo="obama2.jpg")

    assert signed_in.status_code == 201, signed_in.text
    body = signed_in.json()
    assert body["assurance_level"] == "L2" and body["new_resident"] is False
    assert body["capture"] == f"kiosk:{device.id}"
    assert body["resident"]["name"] == "王**" and body["resident"]["has_phone"] is True
    assert "*" in body["resident"]["resident_id_masked"] and citizen["resident_id"] not in signed_in.text
    state = await device.client.get("/kiosk/v1/session", headers=session(signed_in))
    assert state.status_code == 200 and state.json()["seconds_left"] > 0
    check = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE action = 'face.card_checked'")
    assert check["actor_kind"] == "kiosk" and check["actor_id"] == device.id
    assert check["detail"]["capture"] == f"kiosk:{device.id}"
    assert check["detail"]["score"] >= services.face.policy.card_threshold
    assert check["detail"]["card_quality"]["face_pixels"] < 80 <= check["detail"]["quality"]["face_pixels"]
    opened = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE action = 'kiosk.session_opened'")
    assert opened["detail"]["kiosk"] == device.id and opened["detail"]["method"] == "id-card+face"


async def test_two_residents_signing_in_at_one_kiosk_at_once_leave_one_session_open(client, services,
                                                                                 register_kiosk):
    """Each sign-in ends the kiosk's open session; at the same moment, the second waits for the first and
    ends it, so the kiosk never holds two (three rounds)."""
    device = await register_kiosk()
    cards = [id_card(resident_id("330106"), name) for name in ("甲", "乙")]
    for _ in range(3):
        answers = await at_once(services, *(sign_in(device, card) for card in cards))
        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        still = [(await device.client.get("/kiosk/v1/session", headers=session(a))).status_code for a in answers]
        assert sorted(still) == [200, 401], still
        assert await services.db.pool.fetchval(
            "SELECT count(*) FROM kiosk_sessions WHERE kiosk_id = $1 AND ended_at IS NULL",
            uuid.UUID(device.id)) == 1


async def test_a_face_that_does_not_match_the_chip_photo_is_refused(client, services, register_kiosk):
    device = await register_kiosk()
    card = id_card(resident_id("330106"), "陈静", photo="obama.jpg")

    refused = await sign_in(device, card, live_photo="biden.jpg")

    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/face-mismatch" and [r["code"] for r in problem["reasons"]] == ["card-mismatch"]
    assert problem["reasons"][0]["zh"] and "score" not in problem and problem["attempts_left"] >= 0
    assert await services.db.pool.fetchval("SELECT count(*) FROM kiosk_sessions") == 0
    assert await services.db.pool.fetchval("SELECT count(*) FROM citizens") == 0
    failed = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.card_check_failed'")
    assert failed["detail"]["score"] < services.face.policy.card_threshold
    assert failed["detail"]["reasons"] == ["card-mismatch"]


async def test_a_resident_without_phone_or_account_signs_in_and_is_registered_from_the_card(client, services,
                                                                                            register_kiosk):
    device = await register_kiosk()
    number = resident_id("330106")

    signed_in = await sign_in(device, id_card(number, "赵老汉", photo="biden.jpg"), live_photo="biden.jpg")

    assert signed_in.status_code == 201, signed_in.text
    assert signed_in.json()["new_resident"] is True and signed_in.json()["resident"]["has_phone"] is False
    row = await services.db.pool.fetchrow("SELECT * FROM citizens")
    assert row["phone_enc"] is None and row["phone_hash"] is None and row["home_division"] == "330106"
    assert services.cipher.decrypt(row["resident_id_enc"], purpose="citizen.resident_id") == number
    listed = await device.client.get("/kiosk/v1/me/certificates", headers=session(signed_in))
    assert listed.status_code == 200 and listed.json() == []
    again = await sign_in(device, id_card(number, "赵老汉", photo="biden.jpg"), live_photo="biden.jpg")
    assert again.status_code == 201 and again.json()["new_resident"] is False
    assert await services.db.pool.fetchval("SELECT count(*) FROM citizens") == 1
    # The first session ended when the second one opened at the same kiosk.
    first = await device.client.get("/kiosk/v1/session", headers=session(signed_in))
    assert first.status_code == 401 and first.json()["reason"] == "replaced"


async def test_the_session_works_only_on_requests_its_kiosk_signs(client, services, register_kiosk):
    device, other = await register_kiosk(), await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))

    borrowed = await other.client.get("/kiosk/v1/session", headers=session(signed_in))
    unsigned = await client.get("/kiosk/v1/session", headers=session(signed_in))
    nameless = await device.client.get("/kiosk/v1/session")

    assert borrowed.status_code == 401 and borrowed.json()["type"] == "/problems/kiosk-session-ended"
    assert unsigned.status_code == 401 and unsigned.json()["type"] == "/problems/kiosk-signature-missing"
    assert nameless.status_code == 401 and nameless.json()["type"] == "/problems/kiosk-session-ended"
    assert (await device.client.get("/kiosk/v1/session", headers=session(signed_in))).status_code == 200


async def test_removing_the_card_ends_the_session(client, services, register_kiosk):
    device = await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))

    removed = await device.client.delete("/kiosk/v1/session", params={"reason": "card-removed"},
                                         headers=session(signed_in))
    after = await device.client.get("/kiosk/v1/me/certificates", headers=session(signed_in))

    assert removed.status_code == 204
    assert after.status_code == 401 and after.json()["reason"] == "card-removed"
    auth = await services.db.pool.fetchrow("SELECT revoked_at, revoked_reason FROM auth_sessions "
                                          "WHERE principal_kind = 'citizen'")
    assert auth["revoked_at"] is not None and "card-removed" in auth["revoked_reason"]
    ended = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'kiosk.session_ended'")
    assert ended["detail"] == {"reason": "card-removed", "kiosk": device.id}


async def test_an_idle_session_times_out_and_stays_ended(client, services, register_kiosk):
    device = await register_kiosk(configuration={"idle_timeout_seconds": 60})
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))
    await services.db.pool.execute("UPDATE kiosk_sessions SET last_activity_at = now() - interval '61 seconds'")

    late = await device.client.get("/kiosk/v1/session", headers=session(signed_in))
    later = await device.client.get("/kiosk/v1/session", headers=session(signed_in))

    assert late.status_code == 401 and late.json()["reason"] == "idle-timeout"
    assert later.status_code == 401 and later.json()["reason"] == "idle-timeout"
    assert await services.db.pool.fetchval("SELECT end_reason FROM kiosk_sessions") == "idle-timeout"


async def test_revoking_the_kiosk_ends_its_open_sessions(client, services, register_kiosk, admin_token):
    device = await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))

    await client.post(f"/admin/kiosks/{device.id}/revocation", headers=bearer(admin_token), json={"reason": "lost"})

    assert await services.db.pool.fetchval("SELECT end_reason FROM kiosk_sessions") == "kiosk-revoked"
    refused = await device.client.get("/kiosk/v1/session", headers=session(signed_in))
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/kiosk-revoked"


async def test_an_expired_card_or_a_kiosk_without_camera_cannot_sign_in(client, services, register_kiosk):
    device = await register_kiosk()
    expired = await sign_in(device, id_card(resident_id("330106"), valid_until="2020-01-01"))
    assert expired.status_code == 422 and expired.json()["errors"][0]["pointer"] == "#/valid_until"
    printer_only = await register_kiosk(capabilities=["printer"])
    refused = await sign_in(printer_only, id_card(resident_id("330106")))
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/kiosk-capability-missing"


async def test_staff_assistance_puts_both_identities_in_every_audit_entry(client, services, register_kiosk):
    from tests.factories import STAFF_PASSWORD, create_staff

    device = await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))
    await create_staff(services, "xh.window", "receiving_officer", "330106")
    await create_staff(services, "sc.window", "receiving_officer", "510000")

    outsider = await device.client.post("/kiosk/v1/session/assistance", headers=session(signed_in),
                                        json={"username": "sc.window", "password": STAFF_PASSWORD})
    assisted = await device.client.post("/kiosk/v1/session/assistance", headers=session(signed_in),
                                        json={"username": "xh.window", "password": STAFF_PASSWORD})
    await device.client.get("/kiosk/v1/me/certificates", headers=session(signed_in))

    assert outsider.status_code == 403
    assert assisted.status_code == 200, assisted.text
    staff_id = await services.db.pool.fetchval("SELECT id::text FROM staff WHERE username = 'xh.window'")
    assert assisted.json()["assisted_by"] == f"staff:{staff_id}"
    listed = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE action = 'certificate.listed'")
    assert listed["actor_kind"] == "citizen"
    assert listed["detail"]["assisted_by"] == f"staff:{staff_id}" and listed["detail"]["kiosk"] == device.id


async def test_ending_the_assistance_keeps_the_resident_signed_in_and_the_audit_names_them_alone(
        client, services, register_kiosk):
    from tests.factories import STAFF_PASSWORD, create_staff

    device = await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))
    await create_staff(services, "xh.window", "receiving_officer", "330106")
    wrong = await device.client.post("/kiosk/v1/session/assistance", headers=session(signed_in),
                                     json={"username": "xh.window", "password": "not-the-password"})
    assisted = await device.client.post("/kiosk/v1/session/assistance", headers=session(signed_in),
                                        json={"username": "xh.window", "password": STAFF_PASSWORD})
    staff_id = await services.db.pool.fetchval("SELECT id::text FROM staff WHERE username = 'xh.window'")

    ended = await device.client.delete("/kiosk/v1/session/assistance", headers=session(signed_in))
    again = await device.client.delete("/kiosk/v1/session/assistance", headers=session(signed_in))
    await device.client.get("/kiosk/v1/me/certificates", headers=session(signed_in))
    state = await device.client.get("/kiosk/v1/session", headers=session(signed_in))

    # A wrong password says only that the username or password is wrong, and names no one.
    assert wrong.status_code == 401 and wrong.json()["type"] == "/problems/unauthenticated"
    assert "xh.window" not in wrong.text and "not-the-password" not in wrong.text
    assert assisted.json()["assistant"] == {"kind": "staff", "display_name": "xh.window"}
    assert ended.status_code == 200, ended.text
    assert (ended.json()["assisted_by"], ended.json()["assistant"]) == (None, None)
    assert again.status_code == 200 and again.json()["assistant"] is None
    assert state.status_code == 200 and state.json()["assisted_by"] is None
    audit = services.db.pool
    stopped = await audit.fetch("SELECT * FROM audit_log WHERE action = 'kiosk.assistance_ended'")
    assert len(stopped) == 1  # the repeat changed nothing
    assert stopped[0]["actor_kind"] == "citizen" and stopped[0]["detail"]["assisted_by"] == f"staff:{staff_id}"
    assert stopped[0]["detail"]["kiosk"] == device.id
    listed = await audit.fetchrow("SELECT * FROM audit_log WHERE action = 'certificate.listed'")
    assert listed["actor_kind"] == "citizen" and "assisted_by" not in listed["detail"]


async def test_disabling_the_assisting_staff_member_ends_the_assisted_session_at_once(client, services,
                                                                                     register_kiosk, admin_token):
    from tests.factories import STAFF_PASSWORD, create_staff

    device = await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))
    await create_staff(services, "xh.window", "receiving_officer", "330106")
    staff_id = await services.db.pool.fetchval("SELECT id::text FROM staff WHERE username = 'xh.window'")
    assisted = await device.client.post("/kiosk/v1/session/assistance", headers=session(signed_in),
                                        json={"username": "xh.window", "password": STAFF_PASSWORD})
    before = await device.client.get("/kiosk/v1/me/certificates", headers=session(signed_in))

    disabled = await client.post(f"/admin/staff/{staff_id}/disable", headers=bearer(admin_token))
    refused = await device.client.get("/kiosk/v1/me/certificates", headers=session(signed_in))
    again = await device.client.get("/kiosk/v1/session", headers=session(signed_in))

    assert (assisted.status_code, before.status_code, disabled.status_code) == (200, 200, 200)
    assert refused.status_code == 401, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/kiosk-session-ended" and problem["reason"] == "assistant-disabled"
    assert "disabled" in problem["detail"]
    assert again.status_code == 401 and again.json()["reason"] == "assistant-disabled"
    ended = await services.db.pool.fetch("SELECT actor_id, detail FROM audit_log WHERE action = 'kiosk.session_ended'")
    assert [(e["detail"]["reason"], e["detail"]["assisted_by"]) for e in ended] == [
        ("assistant-disabled", f"staff:{staff_id}")]
    assert await services.db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'certificate.listed'") == 1
    # The resident signs in again with the card, unassisted.
    fresh = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))
    state = await device.client.get("/kiosk/v1/session", headers=session(fresh))
    assert state.status_code == 200 and state.json()["assisted_by"] is None


async def test_an_assisting_account_switched_off_behind_the_service_ends_the_session_too(client, services,
                                                                                        register_kiosk):
    from tests.factories import STAFF_PASSWORD, create_staff

    device = await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))
    await create_staff(services, "xh.window", "handling_officer", "330106")
    await device.client.post("/kiosk/v1/session/assistance", headers=session(signed_in),
                             json={"username": "xh.window", "password": STAFF_PASSWORD})

    await services.db.pool.execute("UPDATE staff SET active = false WHERE username = 'xh.window'")
    refused = await device.client.get("/kiosk/v1/session", headers=session(signed_in))

    assert refused.status_code == 401 and refused.json()["reason"] == "assistant-disabled"


async def test_face_enrolment_from_the_chip_photo_needs_separate_consent(client, services, register_kiosk):
    citizen = await register_citizen(client, services)
    device = await register_kiosk()
    card = id_card(citizen["resident_id"], photo="obama.jpg")
    signed_in = await sign_in(device, card, live_photo="obama2.jpg")
    assert signed_in.json()["resident"]["face_enrolled"] is False
    form = {k: v for k, v in card.items() if k != "chip_photo"}
    chip = {"chip_photo": ("chip.png", card["chip_photo"], "image/png")}

    without = await device.client.post("/kiosk/v1/session/face-enrolment", headers=session(signed_in),
                                       data=form, files=chip)
    other_card = await device.client.post("/kiosk/v1/session/face-enrolment", headers=session(signed_in),
                                          data={**form, "resident_id": resident_id("330106"), "consent": "true"},
                                          files=chip)
    enrolled = await device.client.post("/kiosk/v1/session/face-enrolment", headers=session(signed_in),
                                        data={**form, "consent": "true"}, files=chip)

    assert without.status_code == 422 and without.json()["errors"][0]["pointer"] == "#/consent"
    assert other_card.status_code == 422
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["source"] == "kiosk_chip_photo"
    row = await services.db.pool.fetchrow("SELECT enrolled_by, enrolled_kiosk, source FROM face_enrolments")
    assert row["enrolled_by"] is None and str(row["enrolled_kiosk"]) == device.id
    # The reference works for the phone's own face check.
    from tests import face_samples

    verified = await client.post("/face/verifications", headers=bearer(citizen["access_token"]),
                                 files={"photo": ("p.jpg", face_samples.photo("obama3.jpg"), "image/jpeg")})
    assert verified.status_code == 200, verified.text
    again = await device.client.post("/kiosk/v1/session/face-enrolment", headers=session(signed_in),
                                     data={**form, "consent": "true"}, files=chip)
    assert again.status_code == 409
    window_staff = await staff_token(client, services, "receiving_officer", "330000")
    status = await client.get(f"/staff/citizens/{row and (await services.db.pool.fetchval('SELECT id FROM citizens'))}"
                              "/face-enrolment", headers=bearer(window_staff))
    assert status.json()["source"] == "kiosk_chip_photo"


async def test_ending_an_assistance_twice_at_once_ends_it_once_and_another_kiosk_cannot_end_it(
        client, services, register_kiosk):
    from tests.concurrency import at_once
    from tests.factories import STAFF_PASSWORD, create_staff

    device, elsewhere = await register_kiosk(), await register_kiosk()
    signed_in = await sign_in(device, id_card(resident_id("330106"), photo="obama.jpg"))
    await create_staff(services, "xh.window", "receiving_officer", "330106")
    assisted = await device.client.post("/kiosk/v1/session/assistance", headers=session(signed_in),
                                        json={"username": "xh.window", "password": STAFF_PASSWORD})
    assert assisted.status_code == 200, assisted.text

    foreign = await elsewhere.client.delete("/kiosk/v1/session/assistance", headers=session(signed_in))
    still = await device.client.get("/kiosk/v1/session", headers=session(signed_in))
    assert foreign.status_code == 401 and "xh.window" not in foreign.text
    assert still.json()["assistant"] == {"kind": "staff", "display_name": "xh.window"}

    answers = await at_once(services, *(device.client.delete("/kiosk/v1/session/assistance",
                                                             headers=session(signed_in)) for _ in range(2)))
    assert [(a.status_code, a.json()["assistant"]) for a in answers] == [(200, None)] * 2
    ended = await services.db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'kiosk.assistance_ended'")
    assert ended == 1
