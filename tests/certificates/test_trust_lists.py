"""Signed trust and revocation lists: a genuine list verifies against the pinned anchors; a tampered,
foreign, mislabelled or rolled-back list is refused. Pure functions."""

from __future__ import annotations

import base64
import json

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.certificates.trust_lists import (
    AnchorSet,
    ListRefused,
    anchor_jwk,
    anchors_from_jwks,
    read_revocation_list,
    read_trust_list,
    revocation_list_document,
    sign_document,
    signing_key_jwk,
    trust_list_document,
)

NOW = 1_780_000_000
ANCHOR = Ed25519PrivateKey.generate()
ANCHORS = anchors_from_jwks(msgspec.json.encode(AnchorSet([anchor_jwk(ANCHOR.public_key())])))
ISSUER = Ed25519PrivateKey.generate()
JWK = signing_key_jwk(ISSUER.public_key(), issuer="510000-gat", issuer_name="四川省公安厅", division="510000",
                      status="active", valid_from=NOW, certificate_types=["residence_permit"])
DOCUMENT = trust_list_document([JWK], NOW, NOW + 86400)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_signed_trust_list_verifies_and_is_a_jwk_set():
    token = sign_document(DOCUMENT, ANCHOR)

    trusted = read_trust_list(token, ANCHORS)

    payload = json.loads(base64.urlsafe_b64decode(_segments(token)[1] + "=="))
    assert payload["keys"][0] | {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"} == payload["keys"][0]
    assert payload["iat"] == NOW and payload["next_update"] == NOW + 86400
    assert [k.jwk.issuer for keys in trusted.by_kid.values() for k in keys] == ["510000-gat"]


def test_a_tampered_trust_list_is_refused():
    header, payload, signature = _segments(sign_document(DOCUMENT, ANCHOR))
    document = json.loads(base64.urlsafe_b64decode(payload + "=="))
    document["keys"][0]["issuer"] = "330000-gat"
    forged = ".".join([header, _b64(json.dumps(document).encode()), signature])

    with pytest.raises(ListRefused, match="signature"):
        read_trust_list(forged, ANCHORS)


def test_a_list_signed_by_another_anchor_is_refused():
    with pytest.raises(ListRefused, match="unknown trust anchor"):
        read_trust_list(sign_document(DOCUMENT, Ed25519PrivateKey.generate()), ANCHORS)


def test_a_revocation_list_cannot_pass_as_a_trust_list_and_back():
    revocations = sign_document(revocation_list_document([], NOW, NOW + 3600), ANCHOR)

    with pytest.raises(ListRefused, match="expected a tongban-trust-list"):
        read_trust_list(revocations, ANCHORS)
    with pytest.raises(ListRefused, match="expected a tongban-revocation-list"):
        read_revocation_list(sign_document(DOCUMENT, ANCHOR), ANCHORS)
    assert read_revocation_list(revocations, ANCHORS).document.next_update == NOW + 3600


def test_an_older_list_than_the_one_held_is_refused():
    token = sign_document(DOCUMENT, ANCHOR)

    with pytest.raises(ListRefused, match="older"):
        read_trust_list(token, ANCHORS, not_older_than=NOW + 1)
    assert read_trust_list(token, ANCHORS, not_older_than=NOW)


def test_a_key_whose_kid_does_not_match_it_is_refused():
    wrong = msgspec.structs.replace(JWK, kid=_b64(b"\x00" * 8))

    with pytest.raises(ListRefused, match="kid does not match"):
        read_trust_list(sign_document(trust_list_document([wrong], NOW, NOW + 60), ANCHOR), ANCHORS)


def test_garbage_and_other_algorithms_are_refused():
    header = _b64(json.dumps({"alg": "HS256", "typ": "tongban-trust-list", "kid": "x"}).encode())
    for token in ("not a jws", header + "." + _b64(b"{}") + "." + _b64(b"sig")):
        with pytest.raises(ListRefused):
            read_trust_list(token, ANCHORS)


async def test_the_published_trust_list_names_what_each_key_may_sign(client, services):
    from tests.factories import certificate_authority

    await certificate_authority(services, "330100-ga", types=("residence_permit", "driving_licence"))
    await certificate_authority(services, "510000-scjg", types=("business_licence",))
    anchors = anchors_from_jwks((await client.get("/.well-known/tongban/trust-anchors")).content)

    trust = read_trust_list((await client.get("/.well-known/tongban/trust-list")).text, anchors)

    types = {k.jwk.issuer: k.jwk.certificate_types for keys in trust.by_kid.values() for k in keys}
    assert types == {"330100-ga": ["residence_permit", "driving_licence"], "510000-scjg": ["business_licence"]}


async def test_the_signed_lists_are_cached_and_refreshed_at_once_on_a_change(client, services):
    import asyncio

    from backend.actors import Actor
    from tests.factories import bearer, certificate_authority, citizen_id, issue_certificate, register_citizen
    from tests.factories import staff_token

    await certificate_authority(services, "330100-ga")
    certificate = await issue_certificate(services, await citizen_id(
        client, (await register_citizen(client, services))["access_token"]))
    first = {name: (await client.get(f"/.well-known/tongban/{name}")).text
             for name in ("trust-list", "revocation-list")}

    await asyncio.sleep(1.1)  # a list built now would carry a later `iat`
    again = {name: (await client.get(f"/.well-known/tongban/{name}")).text for name in first}
    assert again == first

    officer = await staff_token(client, services, "handling_officer", "330100")
    await client.post(f"/staff/certificates/{certificate.id}/revocation", headers=bearer(officer),
                      json={"reason": "fraud", "note": "冒用"})
    standby = await services.certificates.authorities.create_key("330100-ga", Actor.system())
    anchors = anchors_from_jwks((await client.get("/.well-known/tongban/trust-anchors")).content)
    revocations = read_revocation_list((await client.get("/.well-known/tongban/revocation-list")).text, anchors)
    trust = read_trust_list((await client.get("/.well-known/tongban/trust-list")).text, anchors)
    assert [e.number for e in revocations.document.revoked] == [certificate.number]
    assert standby.kid in {k.jwk.kid for keys in trust.by_kid.values() for k in keys}
