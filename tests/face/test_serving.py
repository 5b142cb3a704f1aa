"""Face inference never queues without bound: past the pool's capacity the answer is 503 at once."""

import asyncio

from tests import face_samples
from tests.factories import bearer, enrol_face, register_citizen


async def test_a_saturated_pool_answers_503_with_retry_after_and_recovers(client_with):
    client, services = await client_with(face_workers=1, face_queue=1, face_attempts_per_citizen_hour=100)
    citizen = await register_citizen(client, services)
    assert (await enrol_face(client, services, citizen, face_samples.photo("obama3.jpg"))).status_code == 200
    photo = face_samples.photo("obama.jpg")

    async def verify(i: int):
        return await client.post("/face/verifications", files={"photo": ("p.jpg", photo, "image/jpeg")},
                                 headers=bearer(citizen["access_token"]) | {"X-Device-ID": f"d{i}"})

    responses = await asyncio.gather(*(verify(i) for i in range(12)))

    statuses = [r.status_code for r in responses]
    busy = [r for r in responses if r.status_code == 503]
    assert set(statuses) == {200, 503} and 2 <= statuses.count(200) < 12
    assert all(r.headers["retry-after"] == "1" and r.json()["type"] == "/problems/service-busy" for r in busy)
    assert services.face.engine.in_flight == 0
    assert (await verify(99)).status_code == 200


async def test_the_test_services_share_one_loaded_pipeline(services):
    assert services.face.engine.pipeline() is face_samples.pipeline()
