"""Staff at a service window enrol a citizen's face reference; it is stored encrypted, never as a photo."""

import uuid

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag

from tests import face_samples
from tests.factories import bearer, citizen_id, enrol_face, register_citizen, staff_token


async def test_a_receiving_officer_enrols_a_citizen_and_only_an_encrypted_template_is_kept(client, services):
    citizen = await register_citizen(client, services, division="330106")
    photo = face_samples.photo("obama3.jpg")

    response = await enrol_face(client, services, citizen, photo)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "service_window" and body["model"] == "sface-2021dec" and body["replaced"] is False
    assert body["quality"]["face_pixels"] >= 80 and body["quality"]["sharpness"] > 0
    row = await services.db.pool.fetchrow("SELECT * FROM face_enrolments")
    embedding = face_samples.pipeline().analyse(photo).embedding
    assert embedding.astype("<f4").tobytes() not in row["template_enc"]
    assert photo[:4096] not in row["template_enc"] and len(row["template_enc"]) < 1024
    stored = services.face.cipher.open_template(row["template_enc"], citizen_id=str(row["citizen_id"]),
                                                model=row["model"])
    assert np.allclose(stored, embedding, atol=1e-6)
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_retained_photos") == 0
    audit = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE action = 'face.enrolled'")
    assert audit["detail"]["quality"]["face_pixels"] == body["quality"]["face_pixels"]
    assert audit["actor_kind"] == "staff" and audit["division_code"] == "330106"


async def test_a_template_copied_to_another_citizen_does_not_decrypt(client, services):
    first = await register_citizen(client, services)
    second = await register_citizen(client, services)
    await enrol_face(client, services, first, face_samples.photo("obama3.jpg"))
    await enrol_face(client, services, second, face_samples.photo("biden.jpg"))
    await services.db.pool.execute(
        "UPDATE face_enrolments SET template_enc = (SELECT template_enc FROM face_enrolments WHERE citizen_id = $1) "
        "WHERE citizen_id = $2", await citizen_id(client, first["access_token"]), await citizen_id(client, second["access_token"]))
    row = await services.db.pool.fetchrow("SELECT * FROM face_enrolments WHERE citizen_id = $1",
                                          uuid.UUID(await citizen_id(client, second["access_token"])))
    with pytest.raises(InvalidTag):
        services.face.cipher.open_template(row["template_enc"], citizen_id=str(row["citizen_id"]), model=row["model"])


async def test_enrolling_again_replaces_the_reference(client, services):
    citizen = await register_citizen(client, services)
    await enrol_face(client, services, citizen, face_samples.photo("obama3.jpg"))

    again = await enrol_face(client, services, citizen, face_samples.photo("obama2.jpg"))

    assert again.status_code == 200 and again.json()["replaced"] is True
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_enrolments") == 1


async def test_staff_outside_the_citizens_division_cannot_enrol_and_the_refusal_is_audited(client, services):
    citizen = await register_citizen(client, services, division="330106")

    response = await enrol_face(client, services, citizen, face_samples.photo("obama3.jpg"), staff_division="510000")

    # Told what an unknown citizen id is told: nothing about whether this citizen exists.
    assert response.status_code == 404 and response.json()["type"] == "/problems/not-found"
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_enrolments") == 0
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'face.enrol_refused'") == 1


async def test_only_window_officers_enrol_and_only_with_consent(client, services):
    citizen = await register_citizen(client, services)
    target = f"/staff/citizens/{await citizen_id(client, citizen['access_token'])}/face-enrolment"
    photo = {"photo": ("p.jpg", face_samples.photo("obama3.jpg"), "image/jpeg")}
    supervisor = await staff_token(client, services, "supervisor", "330000")
    officer = await staff_token(client, services, "handling_officer", "330000")

    by_supervisor = await client.put(target, files=photo, data={"consent": "true"}, headers=bearer(supervisor))
    by_citizen = await client.put(target, files=photo, data={"consent": "true"},
                                  headers=bearer(citizen["access_token"]))
    without_consent = await client.put(target, files=photo, data={"consent": "false"}, headers=bearer(officer))

    assert by_supervisor.status_code == 403 and by_citizen.status_code == 403
    assert without_consent.status_code == 422
    assert without_consent.json()["errors"][0]["pointer"] == "#/consent"
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_enrolments") == 0


async def test_a_poor_enrolment_photo_is_refused_with_every_reason_and_audited(client, services):
    citizen = await register_citizen(client, services)

    response = await enrol_face(client, services, citizen, face_samples.darkened(face_samples.tiny_face()))

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/face-photo-unusable"
    codes = [r["code"] for r in problem["reasons"]]
    assert codes == ["face-too-small", "too-dark"]
    assert all(r["zh"] and r["en"] for r in problem["reasons"])
    assert problem["errors"][0]["pointer"] == "#/photo"
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.enrolment_rejected'")
    assert audit["detail"]["reasons"] == codes
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_enrolments") == 0


async def test_status_for_the_citizen_and_for_staff(client, services):
    citizen = await register_citizen(client, services)
    before = await client.get("/face/enrolment", headers=bearer(citizen["access_token"]))
    await enrol_face(client, services, citizen, face_samples.photo("obama3.jpg"))
    after = await client.get("/face/enrolment", headers=bearer(citizen["access_token"]))
    officer = await staff_token(client, services, "handling_officer", "330100")
    by_staff = await client.get(f"/staff/citizens/{await citizen_id(client, citizen['access_token'])}/face-enrolment",
                                headers=bearer(officer))

    assert before.status_code == 200 and before.json()["enrolled"] is False
    assert "assisted-counter" in before.json()["alternatives"]
    assert after.json()["enrolled"] is True and after.json()["last_verified_at"] is None
    assert after.json()["attempts_left"] == min(services.face.policy.attempts_per_citizen_hour,
                                                services.face.policy.attempts_per_session_hour)
    assert by_staff.status_code == 200 and by_staff.json()["enrolled"] is True
    assert "template" not in after.text


async def test_a_citizen_withdraws_the_enrolment(client, services):
    citizen = await register_citizen(client, services)
    await enrol_face(client, services, citizen, face_samples.photo("obama3.jpg"))

    withdrawn = await client.delete("/face/enrolment", headers=bearer(citizen["access_token"]))
    again = await client.delete("/face/enrolment", headers=bearer(citizen["access_token"]))

    assert withdrawn.status_code == 204
    assert again.status_code == 409 and again.json()["type"] == "/problems/face-not-enrolled"
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_enrolments") == 0
