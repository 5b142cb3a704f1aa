"""The liveness challenge: a random sequence of head movements, answered once with a burst of frames.

Frames are synthesised from a real photo (see `face_samples.turn_head`); the reference is enrolled
from a different photo of the same person.
"""

import asyncio

import pytest

from tests import face_samples
from tests.factories import bearer, enrol_face, register_citizen


async def enrolled_citizen(client, services, reference: str = "obama3.jpg") -> dict:
    citizen = await register_citizen(client, services)
    assert (await enrol_face(client, services, citizen, face_samples.photo(reference))).status_code == 200
    return citizen


async def new_challenge(client, citizen, movement: str = "any") -> dict:
    response = await client.post("/face/liveness/challenges", json={"movement": movement},
                                 headers=bearer(citizen["access_token"]))
    assert response.status_code == 201, response.text
    return response.json()


def frames_for(poses: list[str], source: str = "obama.jpg") -> list[bytes]:
    return face_samples.burst(face_samples.photo(source), poses)


async def answer(client, citizen, challenge: dict, frames: list[bytes]):
    files = [("frames", (f"frame{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]
    return await client.post(f"/face/liveness/challenges/{challenge['challenge_id']}/answer", files=files,
                             headers=bearer(citizen["access_token"]))


def actions(challenge: dict) -> list[str]:
    return [s["action"] for s in challenge["steps"]]


async def test_following_the_challenge_steps_the_session_up_to_l3(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)

    response = await answer(client, citizen, challenge, frames_for(["frontal", first, "frontal", second]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["assurance_level"] == "L3" and services.tokens.read(body["tokens"]["access_token"]).acr == "L3"
    assert body["checks"] == {"match": True, "liveness": "active-challenge", "passive_anti_spoofing": "not-present"}
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.verified'")
    detail = audit["detail"]
    assert detail["check"] == "liveness" and detail["actions"] == [first, second]
    assert detail["labels"] == ["frontal", first, "frontal", second]
    assert detail["score"] >= services.face.policy.threshold and len(detail["consistency"]) == 4
    assert detail["passive_anti_spoofing"] == "not-present"


async def test_a_challenge_is_a_random_sequence_of_the_movements_the_person_chose(client, services):
    citizen = await enrolled_citizen(client, services)
    turns = [actions(await new_challenge(client, citizen, "turn")) for _ in range(6)]
    nods = [actions(await new_challenge(client, citizen, "nod")) for _ in range(6)]
    challenge = await new_challenge(client, citizen)

    assert all(set(t) == {"turn_left", "turn_right"} for t in turns)
    assert all(set(n) == {"look_up", "look_down"} for n in nods)
    assert len({tuple(t) for t in turns + nods}) >= 2
    assert challenge["min_frames"] == 3 and challenge["max_frames"] == 12 and challenge["expires_in"] == 120
    assert all(step["zh"] and step["en"] for step in challenge["steps"])
    invalid = await client.post("/face/liveness/challenges", json={"movement": "dance"},
                                headers=bearer(citizen["access_token"]))
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["pointer"] == "#/movement"


async def test_movements_in_the_wrong_order_fail(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)

    response = await answer(client, citizen, challenge, frames_for(["frontal", second, "frontal", first]))

    assert response.status_code == 403
    assert response.json()["type"] == "/problems/liveness-failed"
    assert [r["code"] for r in response.json()["reasons"]] == ["pose-wrong"]


async def test_a_repeated_still_photo_fails(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    still = face_samples.photo("obama.jpg")

    response = await answer(client, citizen, challenge, [still] * 4)

    assert response.status_code == 403
    codes = [r["code"] for r in response.json()["reasons"]]
    assert codes == ["frames-identical", "pose-wrong"]
    assert await services.db.pool.fetchval("SELECT count(*) FROM auth_sessions WHERE assurance_level = 'L3'") == 0


async def test_a_printed_photo_tilted_left_and_right_fails(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen, "turn")
    photo = face_samples.photo("obama.jpg")
    tilt = {"turn_left": 35, "turn_right": -35}

    frames = [photo] + [face_samples.tilted_photo(photo, tilt[a]) for a in actions(challenge)]
    response = await answer(client, citizen, challenge, frames)

    assert response.status_code == 403
    assert "pose-wrong" in [r["code"] for r in response.json()["reasons"]]


async def test_a_different_person_in_the_burst_fails(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)
    frames = frames_for(["frontal"]) + frames_for([first, "frontal", second], source="biden.jpg")

    response = await answer(client, citizen, challenge, frames)

    assert response.status_code == 403
    assert "person-changed" in [r["code"] for r in response.json()["reasons"]]


async def test_the_live_face_must_match_the_reference(client, services):
    citizen = await enrolled_citizen(client, services, reference="biden.jpg")
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)

    response = await answer(client, citizen, challenge, frames_for(["frontal", first, second]))

    assert response.status_code == 403
    assert response.json()["type"] == "/problems/face-mismatch"


async def test_a_challenge_answers_once(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)
    frames = frames_for(["frontal", first, second])

    once = await answer(client, citizen, challenge, frames)
    twice = await answer(client, citizen, challenge, frames)

    assert once.status_code == 200
    assert twice.status_code == 409
    assert twice.json()["type"] == "/problems/challenge-used"
    assert [r["code"] for r in twice.json()["reasons"]] == ["challenge-used"]


async def test_an_expired_challenge_is_refused(client_with):
    client, services = await client_with(face_challenge_seconds=1)
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)
    frames = frames_for(["frontal", first, second])

    await asyncio.sleep(1.3)
    response = await answer(client, citizen, challenge, frames)

    assert response.status_code == 410
    assert response.json()["type"] == "/problems/challenge-expired"
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.check_failed'")
    assert audit["detail"]["reasons"] == ["challenge-expired"]


async def test_another_session_cannot_answer_a_challenge(client, services):
    citizen = await enrolled_citizen(client, services)
    other = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)

    response = await answer(client, other, challenge, frames_for(["frontal", first, second]))

    assert response.status_code == 410


@pytest.mark.parametrize("count", [1, 13])
async def test_too_few_or_too_many_frames_are_refused_without_using_up_the_challenge(client, services, count):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)

    refused = await answer(client, citizen, challenge, frames_for(["frontal"]) * count)
    accepted = await answer(client, citizen, challenge, frames_for(["frontal", first, second]))

    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "#/frames"
    assert accepted.status_code == 200


async def test_an_unusable_frame_is_named_by_its_position(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    first, second = actions(challenge)
    frames = frames_for(["frontal", first, second])
    frames[2] = face_samples.no_face()

    response = await answer(client, citizen, challenge, frames)

    assert response.status_code == 422
    problem = response.json()
    assert problem["reasons"] == [{"code": "no-face", "zh": problem["reasons"][0]["zh"],
                                   "en": problem["reasons"][0]["en"], "frame": 2}]
    assert problem["errors"][0]["pointer"] == "#/frames/2"


async def test_no_challenge_without_a_reference(client, services):
    citizen = await register_citizen(client, services)
    response = await client.post("/face/liveness/challenges", json={}, headers=bearer(citizen["access_token"]))
    assert response.status_code == 409 and response.json()["type"] == "/problems/face-not-enrolled"
