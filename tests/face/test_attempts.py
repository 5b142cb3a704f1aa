"""Counting face checks by actors without a session: a kiosk device acts for the resident in front of
it (kiosk pension recognition), so its limits and its open challenge are its own — not one bucket and
one open challenge shared by every kiosk."""

import uuid

import pytest

from backend.actors import Actor
from backend.errors import NotFound
from backend.face.capture import FaceClient
from tests import face_samples
from tests.factories import citizen_id, enrol_face, register_citizen


def kiosk(number: int) -> tuple[Actor, FaceClient]:
    name = f"kiosk-{number:02d}"
    return (Actor(kind="kiosk", id=name, division="330106"),
            FaceClient(address=f"10.0.0.{number}", device=name, capture=f"kiosk:{name}"))


async def test_kiosks_do_not_share_one_session_limit(services):
    """Before: every session-less actor counted against the session "" (5 an hour): the sixth kiosk
    challenge of the hour, anywhere, was refused with `face-attempts-exhausted`."""
    for number in range(services.face.policy.attempts_per_session_hour + 2):
        actor, client = kiosk(number)
        with pytest.raises(NotFound):  # counted, then: nobody has this id
            await services.face.issue_challenge_for(actor, uuid.uuid4(), "any", client)


async def test_each_kiosk_holds_its_own_open_challenge(client, services):
    """Before: a second kiosk's challenge replaced the first kiosk's open one (both were held by the
    session ""), so the first pensioner's answer was refused as `challenge-expired`."""
    people = []
    for name in ("王建国", "李秀英"):
        citizen = await register_citizen(client, services, name=name)
        assert (await enrol_face(client, services, citizen, face_samples.photo("obama3.jpg"))).status_code == 200
        people.append(uuid.UUID(await citizen_id(client, citizen["access_token"])))
    (first, first_client), (second, second_client) = kiosk(1), kiosk(2)

    one = await services.face.issue_challenge_for(first, people[0], "any", first_client)
    two = await services.face.issue_challenge_for(second, people[1], "any", second_client)

    assert len(await services.face.challenges.take(first, one.challenge_id, str(people[0]))) == len(one.steps)
    assert len(await services.face.challenges.take(second, two.challenge_id, str(people[1]))) == len(two.steps)
