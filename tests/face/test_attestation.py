"""Attested captures: a phone registers once with Android Key Attestation or Apple App Attest, signs
each liveness answer with the attested key, and the answer's provenance is recorded; uses demand a
minimum provenance; a key or installation can be blocked.

Checks are exercised on real published attestations (shipped roots, at the dates they were made)
and on chains built here with the same structure (`attested_devices`), which can be made to fail
one check at a time."""

import base64
import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from backend.errors import CaptureNotAccepted
from backend.face import attestation
from backend.face.attestation import (
    AndroidAppIdentity,
    AppleAppIdentity,
    AttestationRefused,
    capture_message,
    verify_android,
    verify_app_attest,
    verify_app_attest_assertion,
)
from tests.face.attested_devices import (
    APP_ID,
    NOW,
    PACKAGE,
    SIGNING_DIGEST,
    AndroidPhone,
    CertificateAuthority,
    IPhone,
)
from tests.face.test_capture import actor_of
from tests.face.test_liveness import answer, enrolled_citizen, new_challenge, rendered_to_order
from tests.factories import bearer, staff_token

SAMPLES = json.loads((Path(__file__).parent / "attestation_samples.json").read_text())
GOOGLE = CertificateAuthority("Test Key Attestation")
APPLE = CertificateAuthority("Test App Attestation")
NONCE = b"n" * 32


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def android_identity(**changes) -> AndroidAppIdentity:
    return dataclasses.replace(AndroidAppIdentity(frozenset({PACKAGE}), frozenset({SIGNING_DIGEST}), (GOOGLE.root,)),
                               **changes)


def apple_identity(**changes) -> AppleAppIdentity:
    return dataclasses.replace(AppleAppIdentity(frozenset({APP_ID}), APPLE.root), **changes)


def refused(call) -> str:
    with pytest.raises(AttestationRefused) as caught:
        call()
    return caught.value.code


# -- real published attestations ---------------------------------------------------------------------

@pytest.mark.parametrize("sample", SAMPLES["android"], ids=lambda s: s["device"])
def test_real_android_key_attestations_verify_to_the_shipped_google_roots(sample):
    identity = AndroidAppIdentity(frozenset({SAMPLES["android_package"]}),
                                  frozenset({bytes.fromhex(SAMPLES["android_signing_digest_hex"])}),
                                  attestation.load_certificates(attestation.GOOGLE_ROOTS))
    chain = [base64.b64decode(c) for c in sample["chain"]]
    challenge = bytes.fromhex(sample["challenge_hex"])

    attested = verify_android(chain, challenge, identity, at(sample["checked_at"]))

    assert attested.kind == "android-key-attestation" and attested.app_id == "com.google.android.gms"
    assert attested.facts["security_level"] == "trusted-environment" and attested.facts["verified_boot"] == "verified"
    assert refused(lambda: verify_android(chain, bytes(32), identity, at(sample["checked_at"]))) == \
        "attestation-nonce-mismatch"
    other_root = dataclasses.replace(identity, roots=(GOOGLE.root,))
    assert refused(lambda: verify_android(chain, challenge, other_root, at(sample["checked_at"]))) == \
        "attestation-untrusted-root"


def test_the_real_pixel_8a_chain_is_refused_once_its_intermediate_has_expired():
    sample = SAMPLES["android"][0]
    identity = AndroidAppIdentity(frozenset({SAMPLES["android_package"]}),
                                  frozenset({bytes.fromhex(SAMPLES["android_signing_digest_hex"])}),
                                  attestation.load_certificates(attestation.GOOGLE_ROOTS))
    chain = [base64.b64decode(c) for c in sample["chain"]]
    assert refused(lambda: verify_android(chain, bytes.fromhex(sample["challenge_hex"]), identity, NOW)) == \
        "attestation-chain-invalid"


def test_a_real_app_attest_attestation_and_assertion_verify_to_the_shipped_apple_root():
    apple = SAMPLES["apple"]
    identity = AppleAppIdentity(frozenset({apple["app_id"]}), attestation.load_certificates(attestation.APPLE_ROOT)[0],
                                frozenset({"development"}))
    attestation_object, key_id = base64.b64decode(apple["attestation"]), base64.b64decode(apple["key_id"])
    client_data = base64.b64decode(apple["client_data"])

    attested = verify_app_attest(attestation_object, key_id, client_data, identity, at(apple["checked_at"]))
    counter = verify_app_attest_assertion(attested.public_key, attested.app_id, 0,
                                          base64.b64decode(apple["assertion_client_data"]),
                                          base64.b64decode(apple["assertion"]))

    assert attested.app_id == apple["app_id"] and attested.facts["environment"] == "development"
    assert counter == apple["assertion_counter"] == 1
    assert refused(lambda: verify_app_attest_assertion(attested.public_key, attested.app_id, counter,
                                                       base64.b64decode(apple["assertion_client_data"]),
                                                       base64.b64decode(apple["assertion"]))) == "capture-replayed"
    production_only = dataclasses.replace(identity, environments=frozenset({"production"}))
    assert refused(lambda: verify_app_attest(attestation_object, key_id, client_data, production_only,
                                             at(apple["checked_at"]))) == "attestation-app-mismatch"


# -- each check on built chains ------------------------------------------------------------------------

def test_a_built_android_phone_passes_and_each_flaw_is_named():
    assert verify_android(AndroidPhone(GOOGLE).chain(NONCE), NONCE, android_identity(), NOW).app_id == PACKAGE
    flawed = {
        "attestation-not-hardware": AndroidPhone(GOOGLE, security_level=0),
        "attestation-boot-unverified": AndroidPhone(GOOGLE, device_locked=False),
        "attestation-app-mismatch": AndroidPhone(GOOGLE, package="com.example.repackaged"),
    }
    for code, phone in flawed.items():
        assert refused(lambda p=phone: verify_android(p.chain(NONCE), NONCE, android_identity(), NOW)) == code
    assert refused(lambda: verify_android(AndroidPhone(GOOGLE, boot_state=1).chain(NONCE), NONCE,
                                          android_identity(), NOW)) == "attestation-boot-unverified"
    assert refused(lambda: verify_android(AndroidPhone(GOOGLE, signing_digest=bytes(32)).chain(NONCE), NONCE,
                                          android_identity(), NOW)) == "attestation-app-mismatch"
    strongbox_only = android_identity(min_security_level=2)
    assert refused(lambda: verify_android(AndroidPhone(GOOGLE).chain(NONCE), NONCE, strongbox_only, NOW)) == \
        "attestation-not-hardware"


def test_an_android_chain_from_another_root_expired_revoked_or_re_signed_is_refused():
    chain = AndroidPhone(GOOGLE).chain(NONCE)
    impostor = CertificateAuthority("Impostor")
    assert refused(lambda: verify_android(AndroidPhone(impostor).chain(NONCE), NONCE, android_identity(), NOW)) == \
        "attestation-untrusted-root"
    assert refused(lambda: verify_android(chain, NONCE, android_identity(), NOW + dt.timedelta(days=400))) == \
        "attestation-chain-invalid"
    revoked = android_identity(revoked_serials=frozenset({GOOGLE.intermediate.serial_number}))
    assert refused(lambda: verify_android(chain, NONCE, revoked, NOW)) == "attestation-revoked"
    other_leaf = AndroidPhone(impostor).chain(NONCE)[0]
    assert refused(lambda: verify_android([other_leaf, *chain[1:]], NONCE, android_identity(), NOW)) == \
        "attestation-chain-invalid"
    assert refused(lambda: verify_android([b"not a certificate"], NONCE, android_identity(), NOW)) == \
        "attestation-malformed"


def test_a_certificate_signed_by_a_genuine_attested_key_does_not_extend_the_chain():
    """Any app's genuine hardware key on a genuine phone can sign a forged certificate claiming to be
    our app's key; the genuine key's certificate is no authority, so the chain fails."""
    genuine = AndroidPhone(GOOGLE, package="com.example.any")
    chain = genuine.chain(NONCE)
    ours = AndroidPhone(GOOGLE).chain(NONCE)[0]
    forged_leaf = x509.load_der_x509_certificate(ours)
    forged = (x509.CertificateBuilder().subject_name(forged_leaf.subject)
              .issuer_name(x509.load_der_x509_certificate(chain[0]).subject)
              .public_key(forged_leaf.public_key()).serial_number(7)
              .not_valid_before(forged_leaf.not_valid_before_utc).not_valid_after(forged_leaf.not_valid_after_utc)
              .add_extension(forged_leaf.extensions.get_extension_for_oid(attestation.ANDROID_KEY_DESCRIPTION).value,
                             critical=False)
              .sign(genuine.key, hashes.SHA256()))

    assert refused(lambda: verify_android([forged.public_bytes(serialization.Encoding.DER), *chain], NONCE,
                                          android_identity(), NOW)) == "attestation-chain-invalid"


def test_a_built_iphone_passes_and_each_flaw_is_named():
    phone = IPhone(APPLE)
    attested = verify_app_attest(phone.attestation(NONCE), phone.key_id, NONCE, apple_identity(), NOW)
    assert attested.key_id == phone.key_id and attested.facts["environment"] == "production"
    assert refused(lambda: verify_app_attest(phone.attestation(NONCE), phone.key_id, b"other", apple_identity(),
                                             NOW)) == "attestation-nonce-mismatch"
    assert refused(lambda: verify_app_attest(phone.attestation(NONCE), bytes(32), NONCE, apple_identity(), NOW)) == \
        "attestation-malformed"
    other_app = IPhone(APPLE, app_id="ZZZZZ99999.com.example.clone")
    assert refused(lambda: verify_app_attest(other_app.attestation(NONCE), other_app.key_id, NONCE,
                                             apple_identity(), NOW)) == "attestation-app-mismatch"
    developer = IPhone(APPLE, development=True)
    assert refused(lambda: verify_app_attest(developer.attestation(NONCE), developer.key_id, NONCE,
                                             apple_identity(), NOW)) == "attestation-app-mismatch"
    assert refused(lambda: verify_app_attest(IPhone(CertificateAuthority("Impostor")).attestation(NONCE),
                                             phone.key_id, NONCE, apple_identity(), NOW)) == "attestation-untrusted-root"


def test_the_signed_message_binds_the_challenge_and_every_frame_in_order():
    frames = [b"frame one", b"frame two"]
    message = capture_message("c" * 32, frames)
    assert message.startswith(b"tongban-face-capture/1\n" + b"c" * 32 + b"\n")
    digest = hashlib.sha256(hashlib.sha256(frames[0]).digest() + hashlib.sha256(frames[1]).digest()).hexdigest()
    assert message.endswith(digest.encode())
    assert capture_message("c" * 32, frames[::-1]) != message and capture_message("d" * 32, frames) != message


# -- through the service ------------------------------------------------------------------------------

@pytest.fixture
async def attested(client_with, tmp_path):
    """(client, services) with both platforms configured against the test roots."""
    return await client_with(
        face_android_packages=PACKAGE, face_android_signing_digests=SIGNING_DIGEST.hex(),
        face_android_attestation_roots=str(GOOGLE.write_root(tmp_path)),
        face_apple_app_ids=APP_ID, face_app_attest_root=str(APPLE.write_root(tmp_path)))


async def register(client, citizen, phone) -> dict:
    headers = bearer(citizen["access_token"])
    nonce = (await client.post("/face/installations/nonces", headers=headers)).json()["nonce"]
    raw = base64.urlsafe_b64decode(nonce + "=")
    if isinstance(phone, AndroidPhone):
        body = {"kind": "android-key-attestation", "nonce": nonce,
                "certificate_chain": [base64.b64encode(c).decode() for c in phone.chain(raw)]}
    else:
        body = {"kind": "app-attest", "nonce": nonce, "attestation_object": base64.b64encode(
            phone.attestation(raw)).decode(), "key_id": base64.b64encode(phone.key_id).decode()}
    return {"response": await client.post("/face/installations", json=body, headers=headers), "body": body}


async def signed_answer(client, citizen, challenge, frames, installation, signature: bytes):
    files = [("frames", (f"frame{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]
    return await client.post(f"/face/liveness/challenges/{challenge['challenge_id']}/answer", files=files,
                             data={"installation": installation, "signature": base64.b64encode(signature).decode()},
                             headers=bearer(citizen["access_token"]))


async def test_an_android_installation_signs_an_answer_that_is_recorded_and_accepted_as_attested(attested):
    client, services = attested
    citizen = await enrolled_citizen(client, services)
    phone = AndroidPhone(GOOGLE)
    registered = await register(client, citizen, phone)
    assert registered["response"].status_code == 201, registered["response"].text
    installation = registered["response"].json()
    challenge = await new_challenge(client, citizen)
    frames = rendered_to_order(challenge)

    response = await signed_answer(client, citizen, challenge, frames, installation["id"],
                                   phone.sign(capture_message(challenge["challenge_id"], frames)))

    assert response.status_code == 200, response.text
    assert response.json()["capture"] == "android-key-attestation" and response.json()["assurance_level"] == "L3"
    stepped_up = {**citizen, "access_token": response.json()["tokens"]["access_token"]}
    assert await services.face.installations.require(actor_of(services, stepped_up), "bank-account-change") == \
        "android-key-attestation"
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'face.verified'")
    assert audit["detail"]["capture"] == "android-key-attestation" and audit["detail"]["installation"] == installation["id"]
    assert installation["attested"]["security_level"] == "trusted-environment"
    listed = await client.get("/face/installations", headers=bearer(citizen["access_token"]))
    assert [i["id"] for i in listed.json()] == [installation["id"]] and listed.json()[0]["last_used_at"]
    reused = await client.post("/face/installations", json=registered["body"], headers=bearer(citizen["access_token"]))
    assert reused.status_code == 403 and [r["code"] for r in reused.json()["reasons"]] == ["nonce-expired"]
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'face.installation_refused'") == 1


async def test_frames_changed_after_signing_are_refused_and_an_unattested_session_does_not_satisfy_a_strict_use(
        attested):
    client, services = attested
    citizen = await enrolled_citizen(client, services)
    phone = AndroidPhone(GOOGLE)
    installation = (await register(client, citizen, phone))["response"].json()
    challenge = await new_challenge(client, citizen)
    frames = rendered_to_order(challenge)
    signature = phone.sign(capture_message(challenge["challenge_id"], frames))

    swapped = await signed_answer(client, citizen, challenge, [frames[0], *frames], installation["id"], signature)
    fresh = await new_challenge(client, citizen)
    unattested = await answer(client, citizen, fresh, rendered_to_order(fresh))

    assert swapped.status_code == 403 and swapped.json()["type"].endswith("/capture-not-verified")
    assert [r["code"] for r in swapped.json()["reasons"]] == ["capture-signature-invalid"]
    assert unattested.status_code == 200 and unattested.json()["capture"] == "unattested"
    stepped_up = {**citizen, "access_token": unattested.json()["tokens"]["access_token"]}
    with pytest.raises(CaptureNotAccepted) as caught:
        await services.face.installations.require(actor_of(services, stepped_up), "bank-account-change")
    assert caught.value.extensions["accepted"] == ["attested", "kiosk"]
    assert await services.face.installations.require(actor_of(services, stepped_up), "pension-recognition") == \
        "unattested"


async def test_a_revoked_installation_signs_nothing_and_its_step_up_stops_counting_as_attested(attested):
    client, services = attested
    citizen = await enrolled_citizen(client, services)
    phone = IPhone(APPLE)
    registered = await register(client, citizen, phone)
    assert registered["response"].status_code == 201, registered["response"].text
    installation = registered["response"].json()["id"]
    challenge = await new_challenge(client, citizen)
    frames = rendered_to_order(challenge)
    message = capture_message(challenge["challenge_id"], frames)
    passed = await signed_answer(client, citizen, challenge, frames, installation, phone.assertion(message))
    stepped_up = {**citizen, "access_token": passed.json()["tokens"]["access_token"]}
    assert passed.status_code == 200 and passed.json()["capture"] == "app-attest"
    assert await services.face.installations.require(actor_of(services, stepped_up), "bank-account-change") == "app-attest"

    revoked = await client.delete(f"/face/installations/{installation}", headers=bearer(citizen["access_token"]))
    again = await new_challenge(client, citizen)
    frames = rendered_to_order(again)
    refused_answer = await signed_answer(client, citizen, again, frames, installation,
                                         phone.assertion(capture_message(again["challenge_id"], frames)))

    assert revoked.status_code == 204
    assert refused_answer.status_code == 403 and [r["code"] for r in refused_answer.json()["reasons"]] == \
        ["installation-revoked"]
    with pytest.raises(CaptureNotAccepted):
        await services.face.installations.require(actor_of(services, stepped_up), "bank-account-change")
    rows = await services.db.pool.fetch("SELECT action FROM audit_log WHERE action LIKE 'face.installation_%'")
    assert sorted(r["action"] for r in rows) == ["face.installation_registered", "face.installation_revoked"]


async def test_registration_refuses_a_flawed_phone_an_unconfigured_platform_and_half_a_request(client_with, tmp_path):
    client, services = await client_with(
        face_android_packages=PACKAGE, face_android_signing_digests=SIGNING_DIGEST.hex(),
        face_android_attestation_roots=str(GOOGLE.write_root(tmp_path)))
    citizen = await enrolled_citizen(client, services)
    headers = bearer(citizen["access_token"])

    rooted = await register(client, citizen, AndroidPhone(GOOGLE, device_locked=False))
    iphone = await register(client, citizen, IPhone(APPLE))
    nonce = (await client.post("/face/installations/nonces", headers=headers)).json()["nonce"]
    half = await client.post("/face/installations", json={"kind": "app-attest", "nonce": nonce}, headers=headers)

    assert rooted["response"].status_code == 403
    assert [r["code"] for r in rooted["response"].json()["reasons"]] == ["attestation-boot-unverified"]
    assert [r["code"] for r in iphone["response"].json()["reasons"]] == ["attestation-unavailable"]
    assert half.status_code == 422 and half.json()["errors"][0]["pointer"] == "#/attestation_object"
    assert (await client.get("/face/installations", headers=headers)).json() == []


async def test_an_administrator_blocks_an_installation_in_scope_only(attested):
    client, services = attested
    citizen = await enrolled_citizen(client, services)
    installation = (await register(client, citizen, AndroidPhone(GOOGLE)))["response"].json()["id"]
    far_admin = await staff_token(client, services, "admin", "110000")
    admin = await staff_token(client, services, "admin", "330000")

    outside = await client.post(f"/staff/face-installations/{installation}/revocation",
                                json={"reason": "reported stolen"}, headers=bearer(far_admin))
    inside = await client.post(f"/staff/face-installations/{installation}/revocation",
                               json={"reason": "reported stolen"}, headers=bearer(admin))

    assert outside.status_code == 404
    assert inside.status_code == 200 and inside.json()["revocation_reason"] == "reported stolen"
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'face.installation_revoke_refused'") == 1


async def test_a_stricter_l3_policy_refuses_an_unattested_answer(client_with):
    client, services = await client_with(face_capture_policies="face-l3=attested,kiosk;bank-account-change=kiosk;"
                                                               "pension-recognition=attested,kiosk")
    citizen = await enrolled_citizen(client, services)
    challenge = await new_challenge(client, citizen)

    response = await answer(client, citizen, challenge, rendered_to_order(challenge))

    assert response.status_code == 403 and response.json()["type"].endswith("/capture-not-accepted")
    assert response.json()["accepted"] == ["attested", "kiosk"] and response.json()["capture"] == "unattested"
    assert [r["code"] for r in response.json()["reasons"]] == ["capture-not-accepted"]
