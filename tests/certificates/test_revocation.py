"""Revocation by the issuing authority's staff, with a reason: seen online at once, and offline through
the signed revocation list."""

from __future__ import annotations

import asyncio
from contextvars import Context

import msgspec

from backend.certificates.trust_lists import anchors_from_jwks, read_revocation_list, read_trust_list
from backend.certificates.verifier import verify_qr
from tests.factories import bearer, certificate_authority, citizen_id, issue_certificate, register_citizen, staff_token

REVOCATION = {"reason": "issued-in-error", "note": "居住地址录入错误，已重新签发"}


async def issued(client, services):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services)
    certificate = await issue_certificate(services, await citizen_id(client, citizen["access_token"]))
    qr_text = await services.db.pool.fetchval("SELECT qr_text FROM certificates WHERE id = $1", certificate.id)
    return certificate, qr_text


async def test_revocation_is_seen_online_and_offline(client, services):
    certificate, qr_text = await issued(client, services)
    officer = await staff_token(client, services, "handling_officer", "330000")
    assert (await client.post("/certificates/verify", json={"qr_text": qr_text})).json()["revocation"] == "not-revoked"

    response = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION,
                                 headers=bearer(officer))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked" and response.json()["revocation_reason"] == "issued-in-error"
    online = (await client.post("/certificates/verify", json={"qr_text": qr_text})).json()
    assert online["valid"] is False and online["reason"] == "revoked" and online["revocation"] == "revoked"
    anchors = anchors_from_jwks((await client.get("/.well-known/tongban/trust-anchors")).content)
    revocations = read_revocation_list((await client.get("/.well-known/tongban/revocation-list")).text, anchors)
    trust = read_trust_list((await client.get("/.well-known/tongban/trust-list")).text, anchors)
    assert [e.number for e in revocations.document.revoked] == [certificate.number]
    assert "居住地址" not in msgspec.json.encode(revocations.document).decode()  # the note stays internal
    assert verify_qr(qr_text, trust, revocations).reason == "revoked"
    assert verify_qr(qr_text, trust).valid  # an offline verifier without the list cannot know
    audit = await services.db.pool.fetchrow(
        "SELECT actor_kind, detail FROM audit_log WHERE action = 'certificate.revoked' AND record_id = $1",
        str(certificate.id))
    assert audit["actor_kind"] == "staff" and audit["detail"]["reason"] == "issued-in-error"


async def test_revoking_twice_conflicts_and_a_retry_with_the_key_replays(client, services):
    certificate, _ = await issued(client, services)
    officer = await staff_token(client, services, "admin", "330100")
    headers = {**bearer(officer), "Idempotency-Key": "revoke-1"}

    first = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION, headers=headers)
    replay = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION, headers=headers)
    again = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION,
                              headers=bearer(officer))

    assert first.status_code == replay.status_code == 200 and replay.json() == first.json()
    assert again.status_code == 409


async def test_the_published_list_learns_of_a_revocation_only_once_it_is_committed(client, services):
    """Behind an Idempotency-Key the revocation is a savepoint of the request's transaction: the lists'
    version moves on only after the commit, or a list built meanwhile — without the revocation — would be
    kept under the new version and served to verifiers. Observed at the moment the version moves."""
    await certificate_authority(services, "330100-ga")
    holder = await citizen_id(client, (await register_citizen(client, services))["access_token"])
    officer = await staff_token(client, services, "admin", "330100")
    certificate = await issue_certificate(services, holder)
    lists, seen = services.certificates.registry.lists, []
    bump = lists.changed
    anchors = anchors_from_jwks((await client.get("/.well-known/tongban/trust-anchors")).content)

    async def bump_and_look() -> None:
        await bump()
        seen.append(await services.db.separate_pool.fetchval(  # what any other reader now sees
            "SELECT revoked_at IS NOT NULL FROM certificates WHERE id = $1", certificate.id))
        # A verifier's request for the list arriving now (a task of its own, outside this request's transaction).
        listed = await asyncio.get_running_loop().create_task(lists.signed_revocation_list(), context=Context())
        seen.append(certificate.number in [e.number for e in read_revocation_list(listed, anchors).document.revoked])

    lists.changed = bump_and_look
    try:
        revoked = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION,
                                    headers={**bearer(officer), "Idempotency-Key": "revoke-once"})
    finally:
        lists.changed = bump

    assert revoked.status_code == 200, revoked.text
    assert seen == [True, True]
    published = (await client.get("/.well-known/tongban/revocation-list")).text
    assert certificate.number in [e.number for e in read_revocation_list(published, anchors).document.revoked]


async def test_only_staff_of_the_issuing_division_revoke(client, services):
    certificate, _ = await issued(client, services)
    sichuan = await staff_token(client, services, "handling_officer", "510000")
    supervisor = await staff_token(client, services, "supervisor", "330000")
    admin = await staff_token(client, services, "admin", "330100")

    outside = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION,
                                headers=bearer(sichuan))
    by_role = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION,
                                headers=bearer(supervisor))
    no_reason = await client.post(f"/staff/certificates/{certificate.id}/revocation", json={"reason": "because"},
                                  headers=bearer(admin))

    assert outside.status_code == 404 and outside.json()["type"] == "/problems/not-found"
    assert by_role.status_code == 403 and by_role.json()["type"] == "/problems/forbidden"
    assert no_reason.status_code == 422
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL") == 0
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'certificate.revoked_refused'") == 1


async def test_a_tampered_revocation_list_is_refused(client, services):
    import base64
    import json

    import pytest

    from backend.certificates.trust_lists import ListRefused

    certificate, _ = await issued(client, services)
    officer = await staff_token(client, services, "admin", "330100")
    await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION, headers=bearer(officer))
    anchors = anchors_from_jwks((await client.get("/.well-known/tongban/trust-anchors")).content)
    header, payload, signature = (await client.get("/.well-known/tongban/revocation-list")).text.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=="))
    document["revoked"] = []  # an attacker hides the revocation
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode(),
                       signature])

    with pytest.raises(ListRefused):
        read_revocation_list(forged, anchors)


async def test_online_verification_refuses_garbage_with_a_reason_not_an_error(client, services):
    await certificate_authority(services, "330100-ga")

    answers = [(await client.post("/certificates/verify", json={"qr_text": text})).json()
               for text in ("HC1:ABC", "TB1:" + "A" * 5000, "TB1:%%%%")]
    too_big = await client.post("/certificates/verify", json={"qr_text": "A" * 20000})

    assert [a["reason"] for a in answers] == ["wrong-prefix", "too-large", "malformed"]
    assert all(a["valid"] is False and a["certificate"] is None for a in answers)
    assert too_big.status_code == 422


async def test_a_crafted_qr_gets_a_refusal_online_not_a_server_error(client, services):
    import zlib

    import base45
    import cbor2

    await certificate_authority(services, "330100-ga")
    protected = cbor2.dumps({1: 10**5000, 4: b"12345678"})
    message = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, b"x", b"s" * 64]))

    response = await client.post("/certificates/verify", json={
        "qr_text": "TB1:" + base45.b45encode(zlib.compress(message, 9)).decode()})

    assert response.status_code == 200, response.text
    assert response.json()["valid"] is False and response.json()["reason"] in {"too-large", "malformed"}


async def test_a_refused_revocation_with_an_idempotency_key_is_audited(client, services):
    certificate, _ = await issued(client, services)
    sichuan = await staff_token(client, services, "handling_officer", "510000")

    refused = await client.post(f"/staff/certificates/{certificate.id}/revocation", json=REVOCATION,
                                headers={**bearer(sichuan), "Idempotency-Key": "revoke-outside"})

    assert refused.status_code == 404
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'certificate.revoked_refused' AND record_id = $1",
        str(certificate.id)) == 1


async def forge_with_the_real_key(services, **changes):
    """What someone holding a leaked signing key can make: a correctly signed certificate."""
    import datetime as dt

    from backend.certificates import qr_format as qr

    key = await services.db.pool.fetchrow(
        "SELECT kid, public_key, private_key_wrapped FROM certificate_keys WHERE authority_id = '330100-ga'")
    now = int(dt.datetime.now(dt.UTC).timestamp())
    certificate = {"version": 1, "number": "330100-ga-2026-99999999", "certificate_type": "residence_permit",
                   "holder": qr.HolderClaim("citizen", "冒名者", "3301**********0011"),
                   "fields": {"residence_division": "330106", "residence_address": "杭州市西湖区某路 1 号",
                              "registered_on": "2025-09-01"}} | changes
    claims = qr.Claims("330100-ga", now - 60, now + 86400, qr.CertificateClaim(**certificate))
    return qr.sign(claims, services.certificates.vault.unwrap(key["public_key"], key["private_key_wrapped"]),
                   key["kid"])


async def test_online_verification_refuses_what_the_registry_never_issued(client, services):
    from backend.certificates.qr_format import HolderClaim

    certificate, genuine = await issued(client, services)
    same_holder = HolderClaim("citizen", certificate.holder.name, certificate.holder.identifier)

    unknown_number = await client.post("/certificates/verify", json={"qr_text": await forge_with_the_real_key(services)})
    altered = await client.post("/certificates/verify", json={"qr_text": await forge_with_the_real_key(
        services, number=certificate.number, holder=same_holder)})  # a known number, other content
    real = await client.post("/certificates/verify", json={"qr_text": genuine})

    for forged in (unknown_number.json(), altered.json()):
        assert forged["valid"] is False and forged["reason"] == "not-in-registry", forged
    assert real.json()["valid"] is True and real.json()["revocation"] == "not-revoked"
