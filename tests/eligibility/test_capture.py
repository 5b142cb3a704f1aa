"""Who captured a pension recognition's face check, and the `pension-recognition` capture policy: a
relative's attested phone signs the pensioner's frames like the pensioner's own would, the
recognition names the relative as who captured and the installation that signed, and an operator
who requires attested or kiosk captures for pension recognition gets exactly that."""

import base64
import uuid

import msgspec
import pytest

from backend.face.attestation import capture_message
from tests.eligibility.helpers import agency, files, frames_for, pensioner, step_up, window_staff
from tests.face.attested_devices import PACKAGE, SIGNING_DIGEST, AndroidPhone, CertificateAuthority
from tests.face.test_attestation import register
from tests.factories import bearer, register_citizen

GOOGLE = CertificateAuthority("Test Key Attestation")
STRICT = "face-l3=unattested,attested,kiosk;bank-account-change=attested,kiosk;pension-recognition=attested,kiosk"


@pytest.fixture
def settings(settings, tmp_path):
    """Android attestation against the test root, and pension recognition from attested or kiosk captures only."""
    return msgspec.structs.replace(
        settings, face_android_packages=PACKAGE, face_android_signing_digests=SIGNING_DIGEST.hex(),
        face_android_attestation_roots=str(GOOGLE.write_root(tmp_path)), face_capture_policies=STRICT)


async def test_a_relatives_attested_phone_captures_for_the_pensioner_and_is_named_as_who_captured(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    daughter = await register_citizen(client, services, division="330106", name="王小红")
    daughter_id = str(services.tokens.read(daughter["access_token"]).sub)
    assert (await client.post("/me/relatives", headers=bearer(await step_up(client, citizen)), json={
        "relative_resident_id": daughter["resident_id"], "relationship": "child"})).status_code == 201
    phone = AndroidPhone(GOOGLE)
    installation = (await register(client, daughter, phone))["response"].json()["id"]
    base = f"/me/represented/{citizen['id']}/pension/face-challenges"
    relative = bearer(daughter["access_token"])

    async def answer(signed: bool, forged: bool = False):
        challenge = (await client.post(base, json={}, headers=relative)).json()
        frames = frames_for(challenge)
        signature = phone.sign(capture_message(challenge["challenge_id"], frames[::-1] if forged else frames))
        proof = {"installation": installation, "signature": base64.b64encode(signature).decode()} if signed else {}
        return await client.post(f"{base}/{challenge['challenge_id']}/recognition", files=files(frames), data=proof,
                                 headers=relative)

    unattested = await answer(signed=False)
    forged = await answer(signed=True, forged=True)
    attested = await answer(signed=True)

    assert unattested.status_code == 403 and unattested.json()["type"].endswith("/capture-not-accepted")
    assert unattested.json()["accepted"] == ["attested", "kiosk"] and unattested.json()["capture"] == "unattested"
    assert forged.status_code == 403 and [r["code"] for r in forged.json()["reasons"]] == ["capture-signature-invalid"]
    assert attested.status_code == 201, attested.text
    evidence = await services.db.pool.fetchval("SELECT evidence FROM pension_recognitions")
    assert {k: evidence["face"][k] for k in ("capture", "captured_by", "installation", "assisted_by")} == {
        "capture": "android-key-attestation", "captured_by": f"citizen:{daughter_id}", "installation": installation,
        "assisted_by": None}
    refusals = [r["detail"]["reasons"] for r in await services.db.pool.fetch(
        "SELECT detail FROM audit_log WHERE action = 'face.check_failed_for' ORDER BY at")]
    assert refusals == [["capture-not-accepted"], ["capture-signature-invalid"]]


async def test_the_pensioners_own_unattested_check_is_refused_where_the_policy_wants_attested(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)

    refused = await client.post("/me/pension/recognitions", headers=bearer(await step_up(client, citizen)))

    assert refused.status_code == 403 and refused.json()["type"].endswith("/capture-not-accepted")
    assert await services.db.pool.fetchval("SELECT count(*) FROM pension_recognitions") == 0
    audit = await services.db.pool.fetchrow(
        "SELECT detail FROM audit_log WHERE action = 'pension.recognition_refused'")
    assert audit["detail"]["capture"] == "unattested"


async def test_a_staff_answer_carrying_a_capture_proof_is_refused_not_ignored(client, services):
    staff = await window_staff(client, services)

    response = await client.post(
        f"/staff/pension/roster/{uuid.uuid4()}/face-challenges/{'c' * 32}/recognition",
        params={"method": "assisted-counter"}, files=files([b"frame"]),
        data={"installation": str(uuid.uuid4()), "signature": "c2lnbmF0dXJl"}, headers=bearer(staff))

    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "#/installation"
