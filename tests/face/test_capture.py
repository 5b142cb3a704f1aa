"""Every face attempt records where its pictures came from (the capture's provenance), and a passed
check reports it, so a use that needs more than an ordinary phone can tell."""

import pytest

from backend.actors import Actor
from backend.face.capture import FaceClient
from tests import face_samples
from tests.face.test_verification import enrolled_citizen, photo_file
from tests.factories import bearer


def actor_of(services, citizen: dict) -> Actor:
    claims = services.tokens.read(citizen["access_token"])
    return Actor(kind=claims.kind, id=claims.sub, role=claims.role, assurance_level=claims.acr,
                 session_id=claims.session_id)


async def test_a_phone_check_is_recorded_and_answered_as_unattested(client, services):
    citizen = await enrolled_citizen(client, services)

    passed = await client.post("/face/verifications", files=photo_file(face_samples.photo("obama.jpg")),
                               headers=bearer(citizen["access_token"]))
    failed = await client.post("/face/verifications", files=photo_file(face_samples.photo("biden.jpg")),
                               headers=bearer(citizen["access_token"]))

    assert passed.status_code == 200 and passed.json()["capture"] == "unattested"
    assert failed.status_code == 403 and "capture" not in failed.json()
    rows = await services.db.pool.fetch(
        "SELECT action, detail FROM audit_log WHERE action IN ('face.verified', 'face.check_failed')")
    assert sorted((r["action"], r["detail"]["capture"]) for r in rows) == [
        ("face.check_failed", "unattested"), ("face.verified", "unattested")]


async def test_the_provenance_the_server_established_is_recorded_with_the_attempt_and_returned(client, services):
    citizen = await enrolled_citizen(client, services)
    kiosk = FaceClient(address="10.1.2.3", device="K-0001", capture="kiosk:K-0001")

    verified = await services.face.verify(actor_of(services, citizen), face_samples.photo("obama.jpg"), kiosk)
    challenge = await services.face.issue_challenge(actor_of(services, citizen), "turn", kiosk)

    assert verified.capture == "kiosk:K-0001" and verified.assurance_level == "L2"
    details = {r["action"]: r["detail"] for r in await services.db.pool.fetch(
        "SELECT action, detail FROM audit_log WHERE action IN ('face.verified', 'face.challenge_issued')")}
    assert details["face.verified"]["capture"] == "kiosk:K-0001"
    assert details["face.challenge_issued"]["capture"] == "kiosk:K-0001"
    assert details["face.challenge_issued"]["challenge"] == challenge.challenge_id


@pytest.mark.parametrize("capture", ["attested", "kiosk:", "kiosk:K 1", "kiosk:K-1\n", "UNATTESTED", "kiosk:" + "k" * 65])
def test_an_unknown_provenance_is_refused_where_the_client_is_built(capture):
    with pytest.raises(ValueError, match="provenance"):
        FaceClient(address="127.0.0.1", capture=capture)
