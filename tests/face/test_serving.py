"""Face inference never queues without bound: past the pool's capacity (counted in images) the answer
is 503 at once, and a 503 spends nothing — no attempt, no challenge."""

from backend.errors import ServiceBusy
from tests import face_samples
from tests.concurrency import at_once
from tests.face.test_liveness import answer, enrolled_citizen, new_challenge, rendered_to_order
from tests.factories import bearer


async def test_a_saturated_pool_answers_503_with_retry_after_and_recovers(client_with):
    client, services = await client_with(face_workers=1, face_queue=1, face_attempts_per_citizen_hour=100,
                                         face_attempts_per_session_hour=100)
    citizen = await enrolled_citizen(client, services)
    photo = face_samples.photo("obama.jpg")

    async def verify(i: int):
        return await client.post("/face/verifications", files={"photo": ("p.jpg", photo, "image/jpeg")},
                                 headers=bearer(citizen["access_token"]) | {"X-Device-ID": f"d{i}"})

    responses = await at_once(services, *(verify(i) for i in range(12)))

    statuses = [r.status_code for r in responses]
    busy = [r for r in responses if r.status_code == 503]
    assert set(statuses) == {200, 503} and 2 <= statuses.count(200) < 12
    assert all(r.headers["retry-after"] == "1" and r.json()["type"] == "/problems/service-busy" for r in busy)
    assert all([x["code"] for x in r.json()["reasons"]] == ["service-busy"] and r.json()["reasons"][0]["zh"]
               for r in busy)
    assert services.face.engine.in_flight == 0
    assert (await verify(99)).status_code == 200


async def test_a_busy_pool_uses_up_neither_the_challenge_nor_an_attempt(client, services):
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)
    frames = rendered_to_order(challenge)
    left_before = (await client.get("/face/enrolment", headers=bearer(citizen["access_token"]))).json()["attempts_left"]
    engine = services.face.engine

    async with engine.reserve(engine.capacity):  # other requests fill the pool
        busy = await answer(client, citizen, challenge, frames)
        busy_photo = await client.post("/face/verifications",
                                       files={"photo": ("p.jpg", face_samples.photo("obama.jpg"), "image/jpeg")},
                                       headers=bearer(citizen["access_token"]))
    left_after = (await client.get("/face/enrolment", headers=bearer(citizen["access_token"]))).json()["attempts_left"]
    retried = await answer(client, citizen, challenge, frames)

    assert busy.status_code == 503 and busy_photo.status_code == 503
    assert left_after == left_before
    assert retried.status_code == 200, retried.text
    assert await services.db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'face.check_failed'") == 0


async def test_capacity_is_counted_in_images_so_a_burst_takes_room_for_each_frame(services):
    engine = services.face.engine

    async with engine.reserve(9):
        assert engine.in_flight == 9
        room = engine.capacity - 9
        async with engine.reserve(room):
            try:
                async with engine.reserve(1):
                    raise AssertionError("the pool was full")
            except ServiceBusy:
                pass
    assert engine.in_flight == 0
    async with engine.reserve(engine.capacity + 50):  # a burst larger than the pool still runs on an idle one
        assert engine.in_flight == engine.capacity


async def test_the_test_services_share_one_loaded_pipeline(services):
    assert services.face.engine.pipeline() is face_samples.pipeline()
