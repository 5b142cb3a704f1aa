"""A citizen steps up to L2 by matching one photo against the enrolled reference."""

import datetime as dt

import pytest

from backend.errors import FaceAttemptsExhausted
from tests import face_samples
from tests.factories import bearer, enrol_face, register_citizen


def photo_file(data: bytes, name: str = "photo.jpg", media_type: str = "image/jpeg") -> dict:
    return {"photo": (name, data, media_type)}


async def enrolled_citizen(client, services, photo: str = "obama3.jpg") -> dict:
    citizen = await register_citizen(client, services)
    response = await enrol_face(client, services, citizen, face_samples.photo(photo))
    assert response.status_code == 200, response.text
    return citizen


async def test_the_same_person_is_accepted_and_the_session_steps_up_to_l2(client, services):
    citizen = await enrolled_citizen(client, services)
    before = await client.put("/me/phone", json={"phone": "13700000001", "code": "000000"},
                              headers=bearer(citizen["access_token"]))

    response = await client.post("/face/verifications", files=photo_file(face_samples.photo("obama.jpg")),
                                 headers=bearer(citizen["access_token"]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"] == "match" and body["assurance_level"] == "L2"
    assert body["checks"] == {"match": True, "liveness": "none", "passive_anti_spoofing": "not-present"}
    new_token = body["tokens"]["access_token"]
    assert services.tokens.read(new_token).acr == "L2"
    assert before.status_code == 403 and before.json()["type"] == "/problems/step-up-required"
    after = await client.put("/me/phone", json={"phone": "13700000001", "code": "000000"}, headers=bearer(new_token))
    assert after.status_code == 422  # past the L2 guard; only the code is wrong now
    audit = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE action = 'face.verified'")
    assert audit["detail"]["score"] >= services.face.policy.threshold
    assert audit["detail"]["decision"] == "match" and audit["detail"]["quality"]["face_pixels"] > 80
    assert await services.db.pool.fetchval("SELECT assurance_level FROM auth_sessions WHERE id = $1::uuid",
                                           services.tokens.read(new_token).session_id) == "L2"
    status = await client.get("/face/enrolment", headers=bearer(new_token))
    assert status.json()["last_verified_level"] == "L2"


async def test_another_person_is_refused_and_the_session_stays_l1(client, services):
    citizen = await enrolled_citizen(client, services)

    response = await client.post("/face/verifications", files=photo_file(face_samples.photo("biden.jpg")),
                                 headers=bearer(citizen["access_token"]))

    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "/problems/face-mismatch"
    assert [r["code"] for r in problem["reasons"]] == ["mismatch"]
    assert problem["reasons"][0]["zh"] and problem["reasons"][0]["en"]
    assert "tokens" not in problem and "score" not in problem
    policy = services.face.policy
    assert problem["attempts_left"] == min(policy.attempts_per_citizen_hour, policy.attempts_per_session_hour) - 1
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.check_failed'")
    assert audit["detail"]["score"] < services.face.policy.threshold
    assert audit["detail"]["reasons"] == ["mismatch"] and audit["detail"]["decision"] == "face-mismatch"
    assert await services.db.pool.fetchval("SELECT count(*) FROM auth_sessions WHERE assurance_level <> 'L1'") == 0


UNUSABLE = [
    ("no face", face_samples.no_face, 422, "face-photo-unusable", ["no-face"]),
    ("two faces", face_samples.two_faces, 422, "face-photo-unusable", ["several-faces"]),
    ("tiny face", face_samples.tiny_face, 422, "face-photo-unusable", ["face-too-small"]),
    ("corrupt", face_samples.corrupt, 422, "face-photo-unusable", ["image-corrupt"]),
    ("not an image", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", 422, "face-photo-unusable", ["not-an-image"]),
    ("too many bytes", lambda: face_samples.too_many_bytes(4 * 1024 * 1024), 413, "face-photo-too-large",
     ["image-too-large"]),
    ("too many pixels", face_samples.too_many_pixels, 413, "face-photo-too-large", ["image-too-many-pixels"]),
]


@pytest.mark.parametrize(("case", "make", "status", "slug", "codes"), UNUSABLE, ids=[u[0] for u in UNUSABLE])
async def test_an_unusable_photo_is_refused_with_a_clear_reason(client, services, case, make, status, slug, codes):
    citizen = await enrolled_citizen(client, services)

    response = await client.post("/face/verifications", files=photo_file(make()),
                                 headers=bearer(citizen["access_token"]))

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert [r["code"] for r in problem["reasons"]] == codes
    assert all(r["zh"] and r["en"] for r in problem["reasons"])
    assert problem["errors"][0]["pointer"] == "#/photo"
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.check_failed'")
    assert audit["detail"]["reasons"] == codes


async def test_a_citizen_without_a_reference_is_told_where_to_enrol(client, services):
    citizen = await register_citizen(client, services)

    response = await client.post("/face/verifications", files=photo_file(face_samples.photo("obama.jpg")),
                                 headers=bearer(citizen["access_token"]))

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/face-not-enrolled"
    assert "服务窗口" in response.json()["reasons"][0]["zh"]


async def test_audit_entries_carry_scores_and_never_image_bytes(client, services):
    citizen = await enrolled_citizen(client, services)
    for name in ("obama.jpg", "biden.jpg"):
        await client.post("/face/verifications", files=photo_file(face_samples.photo(name)),
                          headers=bearer(citizen["access_token"]))

    rows = await services.db.pool.fetch("SELECT action, detail::text AS text, detail FROM audit_log "
                                        "WHERE action IN ('face.verified', 'face.check_failed', 'face.enrolled')")

    assert sorted(r["action"] for r in rows) == ["face.check_failed", "face.enrolled", "face.verified"]
    for row in rows:
        assert len(row["text"]) < 2000
        assert "base64" not in row["text"] and "\\u00ff\\u00d8" not in row["text"].lower()
    scores = [r["detail"]["score"] for r in rows if r["action"] != "face.enrolled"]
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_retained_photos") == 0


async def test_attempts_are_limited_per_citizen(client_with):
    client, services = await client_with(face_attempts_per_citizen_hour=2)
    citizen = await enrolled_citizen(client, services)
    headers = bearer(citizen["access_token"])

    statuses = [(await client.post("/face/verifications", files=photo_file(face_samples.no_face()),
                                   headers=headers | {"X-Device-ID": f"phone-{i}"})).status_code for i in range(2)]
    refused = await client.post("/face/verifications", files=photo_file(face_samples.photo("obama.jpg")),
                                headers=headers | {"X-Device-ID": "phone-9"})

    assert statuses == [422, 422]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    problem = refused.json()
    assert problem["type"] == f"/problems/{FaceAttemptsExhausted.slug}"
    assert [r["code"] for r in problem["reasons"]] == ["attempts-exhausted"]
    assert "home-visit" in problem["alternatives"]
    status = await client.get("/face/enrolment", headers=headers)
    assert status.json()["attempts_left"] == 0 and status.json()["alternatives"]


async def test_attempts_are_limited_per_device(client_with):
    client, services = await client_with(face_attempts_per_device_hour=2)
    kiosk = {"X-Device-ID": "kiosk-330106-07"}
    people = [await enrolled_citizen(client, services) for _ in range(3)]

    statuses = []
    for person in people:
        response = await client.post("/face/verifications", files=photo_file(face_samples.no_face()),
                                     headers=bearer(person["access_token"]) | kiosk)
        statuses.append(response.status_code)
    elsewhere = await client.post("/face/verifications", files=photo_file(face_samples.no_face()),
                                  headers=bearer(people[2]["access_token"]) | {"X-Device-ID": "kiosk-other"})

    assert statuses == [422, 422, 429]
    assert elsewhere.status_code == 422


async def test_photos_are_kept_encrypted_only_when_dispute_retention_is_configured(client_with):
    client, services = await client_with(face_dispute_retention_days=30)
    citizen = await enrolled_citizen(client, services)
    photo = face_samples.photo("obama.jpg")

    await client.post("/face/verifications", files=photo_file(photo), headers=bearer(citizen["access_token"]))

    row = await services.db.pool.fetchrow("SELECT * FROM face_retained_photos")
    assert row["check_kind"] == "photo" and photo[:2048] not in row["photo_enc"]
    assert services.face.cipher.open(row["photo_enc"], purpose="face.retained-photo",
                                     citizen_id=str(row["citizen_id"])) == photo
    assert dt.timedelta(days=29) < row["retain_until"] - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    assert await services.face.purge_retained_photos() == 0
    await services.db.pool.execute("UPDATE face_retained_photos SET retain_until = now() - interval '1 second'")
    assert await services.face.purge_retained_photos() == 1
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_retained_photos") == 0


async def test_no_photo_is_kept_of_someone_not_enrolled_or_who_withdrew(client_with):
    """Retention serves disputes about a face check of an enrolled person, on their consent; without an
    enrolment (never made, or withdrawn) nothing of the attempt is kept."""
    client, services = await client_with(face_dispute_retention_days=30)
    never = await register_citizen(client, services)
    withdrawn = await enrolled_citizen(client, services)
    assert (await client.delete("/face/enrolment", headers=bearer(withdrawn["access_token"]))).status_code == 204

    answers = [await client.post("/face/verifications", files=photo_file(face_samples.photo("obama.jpg")),
                                 headers=bearer(person["access_token"])) for person in (never, withdrawn)]

    assert [a.status_code for a in answers] == [409, 409]
    assert await services.db.pool.fetchval("SELECT count(*) FROM face_retained_photos") == 0


async def test_without_a_device_id_people_behind_one_address_do_not_share_a_device_limit(client_with):
    client, services = await client_with(face_attempts_per_device_hour=2)
    people = [await enrolled_citizen(client, services) for _ in range(3)]

    statuses = [(await client.post("/face/verifications", files=photo_file(face_samples.no_face()),
                                   headers=bearer(person["access_token"]))).status_code for person in people]

    assert statuses == [422, 422, 422]


async def test_attempts_are_limited_per_session_whatever_device_id_is_sent(client_with):
    client, services = await client_with(face_attempts_per_session_hour=2, face_attempts_per_citizen_hour=100)
    citizen = await enrolled_citizen(client, services)

    statuses = [(await client.post("/face/verifications", files=photo_file(face_samples.no_face()),
                                   headers=bearer(citizen["access_token"]) | {"X-Device-ID": f"rotated-{i}"})).status_code
                for i in range(3)]

    assert statuses == [422, 422, 429]


async def test_attempts_are_limited_per_network_address(client_with):
    client, services = await client_with(face_attempts_per_address_hour=2)
    people = [await enrolled_citizen(client, services) for _ in range(3)]

    statuses = [(await client.post("/face/verifications", files=photo_file(face_samples.no_face()),
                                   headers=bearer(p["access_token"]) | {"X-Device-ID": f"phone-{i}"})).status_code
                for i, p in enumerate(people)]

    assert statuses == [422, 422, 429]


class _SeesAttacksEverywhere:
    """A stand-in passive detector: the plug-in seam, exercised with the simplest possible judge."""

    name = "test-detector"
    present = True

    def __init__(self) -> None:
        self.crops = 0

    def attack_score(self, aligned):
        assert aligned.shape == (112, 112, 3)
        self.crops += 1
        return 0.9


async def test_an_installed_passive_detector_runs_on_each_face_and_refuses_above_its_threshold(client, services):
    citizen = await enrolled_citizen(client, services)
    detector = _SeesAttacksEverywhere()
    services.face.attack_detector = detector

    response = await client.post("/face/verifications", files=photo_file(face_samples.photo("obama.jpg")),
                                 headers=bearer(citizen["access_token"]))

    assert response.status_code == 403
    assert [r["code"] for r in response.json()["reasons"]] == ["presentation-attack"]
    assert detector.crops == 1
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.check_failed'")
    assert audit["detail"]["attack_scores"] == [0.9] and audit["detail"]["passive_anti_spoofing"] == "test-detector"


async def test_a_photo_check_after_a_liveness_check_leaves_the_session_at_l3(client, services):
    from tests.face.test_liveness import answer, new_challenge, rendered_to_order

    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    l3 = (await answer(client, citizen, challenge, rendered_to_order(challenge))).json()["tokens"]

    response = await client.post("/face/verifications", files=photo_file(face_samples.photo("obama.jpg")),
                                 headers=bearer(l3["access_token"]))

    assert response.status_code == 200 and response.json()["assurance_level"] == "L3"
    session_id = services.tokens.read(l3["access_token"]).session_id
    assert await services.db.pool.fetchval("SELECT assurance_level FROM auth_sessions WHERE id = $1::uuid",
                                           session_id) == "L3"


async def test_refusals_by_the_framework_on_face_endpoints_carry_reasons(client_with):
    client, services = await client_with(max_body_bytes=1_000_000)
    citizen = await enrolled_citizen(client, services)
    headers = bearer(citizen["access_token"])

    too_large = await client.post("/face/verifications", headers=headers,
                                  files=photo_file(face_samples.too_many_bytes(1_100_000)))
    no_photo = await client.post("/face/verifications", headers=headers,
                               files={"picture": ("p.jpg", face_samples.photo("obama.jpg"), "image/jpeg")})

    not_a_form = await client.post("/face/verifications", headers=headers, data={"photo": "hello"})

    assert not_a_form.status_code in (400, 422) and [r["code"] for r in not_a_form.json()["reasons"]] == ["request-invalid"]
    assert too_large.status_code == 413 and [r["code"] for r in too_large.json()["reasons"]] == ["request-too-large"]
    assert no_photo.status_code == 422 and [r["code"] for r in no_photo.json()["reasons"]] == ["request-invalid"]
    assert all(r.json()["reasons"][0]["zh"] for r in (too_large, no_photo))
