"""Key rotation: certificates signed before still verify with the retired key, new ones use the new
key, and the retired key leaves the trust list once the last certificate it signed has expired."""

from __future__ import annotations

import base64
import datetime as dt

import msgspec

from backend.actors import Actor
from backend.certificates.trust_lists import TrustList, anchors_from_jwks, read_trust_list
from backend.certificates.verifier import verify_qr
from tests.factories import certificate_authority, citizen_id, issue_certificate, register_citizen


async def trust_at(services, at: dt.datetime | None = None) -> TrustList:
    anchors = anchors_from_jwks(msgspec.json.encode(await services.certificates.lists.trust_anchors()))
    return read_trust_list(await services.certificates.lists.signed_trust_list(at), anchors)


def statuses(trust: TrustList, issuer: str) -> dict[str, str]:
    return {k.jwk.kid: k.jwk.status for keys in trust.by_kid.values() for k in keys if k.jwk.issuer == issuer}


async def qr_of(services, certificate_id) -> str:
    return await services.db.pool.fetchval("SELECT qr_text FROM certificates WHERE id = $1", certificate_id)


async def test_rotation_keeps_old_certificates_valid_and_signs_new_ones_with_the_new_key(client, services):
    await certificate_authority(services, "330100-ga")
    holder = await citizen_id(client, (await register_citizen(client, services))["access_token"])
    before = await issue_certificate(services, holder, expires_on=str(dt.date.today() + dt.timedelta(days=30)))

    changed = await services.certificates.authorities.rotate_key("330100-ga", Actor.system(), immediately=True)
    after = await issue_certificate(services, holder)

    retired, activated = changed
    assert (retired.kid, retired.status, activated.status) == (before.kid, "retired", "active")
    assert after.kid == activated.kid != before.kid
    trust = await trust_at(services)
    assert statuses(trust, "330100-ga") == {before.kid: "retired", after.kid: "active"}
    assert verify_qr(await qr_of(services, before.id), trust).valid
    assert verify_qr(await qr_of(services, after.id), trust).valid
    listed = next(k.jwk for keys in trust.by_kid.values() for k in keys if k.jwk.kid == before.kid)
    assert listed.listed_until == int(before.expires_at.timestamp()) and listed.signing_until is not None

    # After the last certificate the retired key signed has expired, the key drops out of the list.
    later = await trust_at(services, before.expires_at + dt.timedelta(seconds=1))
    assert statuses(later, "330100-ga") == {after.kid: "active"}
    assert verify_qr(await qr_of(services, before.id), later).reason == "unknown-issuer"


async def test_a_retired_key_that_signed_nothing_leaves_at_once(services):
    await certificate_authority(services, "330100-ga")
    first = (await services.certificates.authorities.list_keys("330100-ga"))[0]

    await services.certificates.authorities.rotate_key("330100-ga", Actor.system(), immediately=True)

    assert first.kid not in statuses(await trust_at(services), "330100-ga")


async def test_a_standby_key_is_published_before_it_signs(services):
    await certificate_authority(services, "330100-ga")

    standby = await services.certificates.authorities.create_key("330100-ga", Actor.system())
    published = statuses(await trust_at(services), "330100-ga")
    await services.db.pool.execute(  # one trust-list period later, every verifier holds it
        "UPDATE certificate_keys SET created_at = created_at - $2 * interval '1 second' WHERE id = $1",
        standby.id, services.settings.trust_list_seconds)
    changed = await services.certificates.authorities.rotate_key("330100-ga", Actor.system())

    assert standby.status == "standby" and published[standby.kid] == "standby"
    assert changed[-1].id == standby.id and changed[-1].status == "active"


async def test_a_withdrawn_key_stops_verifying_at_once(client, services):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services)
    certificate = await issue_certificate(services, await citizen_id(client, citizen["access_token"]))
    key = next(k for k in await services.certificates.authorities.list_keys("330100-ga") if k.kid == certificate.kid)

    await services.certificates.authorities.withdraw_key(key.id, Actor.system())

    qr_text = await qr_of(services, certificate.id)
    assert verify_qr(qr_text, await trust_at(services)).reason == "unknown-issuer"
    online = await client.post("/certificates/verify", json={"qr_text": qr_text})
    assert online.json()["reason"] == "unknown-issuer"


async def test_rotation_and_key_creation_are_audited_and_never_reveal_private_keys(client, services):
    await certificate_authority(services, "330100-ga")
    await services.certificates.authorities.rotate_key("330100-ga", Actor.system(), immediately=True)
    wrapped = await services.db.pool.fetch("SELECT public_key, private_key_wrapped FROM certificate_keys")
    secrets = [services.certificates.vault.unwrap(r["public_key"], r["private_key_wrapped"]).private_bytes_raw()
               for r in wrapped]

    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_type = 'certificate_key' ORDER BY at")]
    published = [(await client.get(f"/.well-known/tongban/{name}")).content
                 for name in ("trust-list", "trust-anchors", "revocation-list")]

    assert actions.count("certificate_key.created") == 2 and "certificate_key.rotated" in actions
    for secret in secrets:
        for encoded in (secret.hex(), base64.urlsafe_b64encode(secret).rstrip(b"=").decode()):
            assert all(encoded.encode() not in body for body in published)


async def sign_with(services, key_id, issued_at: int) -> str:
    """A certificate signed directly with one of the authority's keys, dated `issued_at`."""
    from backend.certificates import qr_format as qr

    row = await services.db.pool.fetchrow(
        "SELECT kid, public_key, private_key_wrapped FROM certificate_keys WHERE id = $1", key_id)
    claims = qr.Claims("330100-ga", issued_at, issued_at + 86400, qr.CertificateClaim(
        1, "330100-ga-2026-00000077", "residence_permit", qr.HolderClaim("citizen", "王建国", "5101**********0010"),
        {"residence_division": "330106", "residence_address": "杭州", "registered_on": "2025-09-01"}))
    return qr.sign(claims, services.certificates.vault.unwrap(row["public_key"], row["private_key_wrapped"]),
                   row["kid"])


async def test_a_standby_key_signs_nothing_that_verifies_before_it_may_be_activated(services):
    await certificate_authority(services, "330100-ga")
    standby = await services.certificates.authorities.create_key("330100-ga", Actor.system())
    now = int(dt.datetime.now(dt.UTC).timestamp())

    trust = await trust_at(services)
    listed = next(k.jwk for keys in trust.by_kid.values() for k in keys if k.jwk.kid == standby.kid)

    assert listed.status == "standby"
    assert listed.valid_from == int(standby.created_at.timestamp()) + services.settings.trust_list_seconds
    assert verify_qr(await sign_with(services, standby.id, now), trust).reason == "unknown-issuer"


async def test_a_key_is_valid_from_its_activation_not_its_creation(services):
    await certificate_authority(services, "330100-ga")
    standby = await services.certificates.authorities.create_key("330100-ga", Actor.system())
    await services.db.pool.execute(  # published two days ago, activated now
        "UPDATE certificate_keys SET created_at = now() - interval '2 days' WHERE id = $1", standby.id)
    await services.certificates.authorities.rotate_key("330100-ga", Actor.system())
    activated = next(k for k in await services.certificates.authorities.list_keys("330100-ga") if k.id == standby.id)
    backdated = int((activated.activated_at - dt.timedelta(days=1)).timestamp())

    trust = await trust_at(services)
    listed = next(k.jwk for keys in trust.by_kid.values() for k in keys if k.jwk.kid == standby.kid)

    assert listed.valid_from == int(activated.activated_at.timestamp())
    assert verify_qr(await sign_with(services, standby.id, backdated), trust).reason == "unknown-issuer"


async def test_rotation_waits_until_verifiers_hold_a_standby_key_unless_told_now(services):
    import pytest

    from backend.errors import Conflict

    await certificate_authority(services, "330100-ga")
    with pytest.raises(Conflict, match="standby"):
        await services.certificates.authorities.rotate_key("330100-ga", Actor.system())  # no standby key at all
    standby = await services.certificates.authorities.create_key("330100-ga", Actor.system())
    with pytest.raises(Conflict, match="--now"):
        await services.certificates.authorities.rotate_key("330100-ga", Actor.system())  # published moments ago

    changed = await services.certificates.authorities.rotate_key("330100-ga", Actor.system(), immediately=True)

    assert changed[-1].id == standby.id and changed[-1].status == "active"
    assert len(await services.certificates.authorities.list_keys("330100-ga")) == 2  # no other key was made
    audit = await services.db.pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'certificate_key.rotated' ORDER BY at DESC LIMIT 1")
    assert audit["immediately"] is True


async def test_a_new_key_with_none_in_service_activates_the_longest_published_standby_key(services):
    await certificate_authority(services, "330100-ga")
    active = (await services.certificates.authorities.list_keys("330100-ga"))[0]
    published = await services.certificates.authorities.create_key("330100-ga", Actor.system())
    await services.certificates.authorities.withdraw_key(active.id, Actor.system())

    created = await services.certificates.authorities.create_key("330100-ga", Actor.system())

    statuses_by_id = {k.id: k.status for k in await services.certificates.authorities.list_keys("330100-ga")}
    assert statuses_by_id == {active.id: "withdrawn", published.id: "active", created.id: "standby"}
    assert created.status == "standby"
