"""The signature rules against RFC 9421's own example (Appendix B.2.6, Ed25519, with the published
test key of B.1.4 — test data only), and our policy on top of them."""

import base64
import datetime as dt
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import ContentDigest, HTTPMessageSigner, HTTPMessageVerifier, InvalidSignature, algorithms

from backend.errors import KioskSignatureInvalid, KioskSignatureStale
from backend.kiosks import signatures
from backend.kiosks.signatures import SignedMessage

# RFC 9421 B.1.4 "test-key-ed25519" and the B.2.6 request.
RFC_PRIVATE = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"
RFC_PUBLIC = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
RFC_BODY = b'{"hello": "world"}'
RFC_HEADERS = [("Host", "example.com"), ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
               ("Content-Type", "application/json"),
               ("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"),
               ("Content-Length", "18")]
RFC_INPUT = ('sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");'
             'created=1618884473;keyid="test-key-ed25519"')
RFC_SIGNATURE = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"


def rfc_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(RFC_PRIVATE + "="))


class Resolver:
    def resolve_public_key(self, key_id):
        return rfc_key().public_key()

    def resolve_private_key(self, key_id):
        return rfc_key()


def rfc_message(headers):
    return signatures._LibraryMessage("POST", "https://example.com/foo?param=Value&Pet=dog",
                                      signatures._Headers(list(headers)))


def test_the_rfc_test_key_and_digest_are_what_the_rfc_publishes():
    assert signatures.public_key_text(rfc_key().public_key().public_bytes_raw()) == RFC_PUBLIC
    # RFC 9530's example digests of the same body.
    assert base64.b64encode(hashlib.sha512(RFC_BODY).digest()).decode() in RFC_HEADERS[3][1]


def test_signing_the_rfc_request_gives_the_rfc_signature_byte_for_byte():
    message = rfc_message(RFC_HEADERS)
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Resolver()).sign(
        message, key_id="test-key-ed25519", label="sig-b26", include_alg=False, use_existing_digest=True,
        created=dt.datetime.fromtimestamp(1618884473, dt.UTC),
        covered_component_ids=("date", "@method", "@path", "@authority", "content-type", "content-length"))
    lines = dict(message.headers.items())
    assert lines["Signature-Input"] == RFC_INPUT
    assert lines["Signature"] == RFC_SIGNATURE  # Ed25519 is deterministic


def test_the_rfc_request_verifies_and_a_changed_one_does_not():
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=Resolver())
    signed = [*RFC_HEADERS, ("Signature-Input", RFC_INPUT), ("Signature", RFC_SIGNATURE)]
    (result,) = verifier.verify(rfc_message(signed), max_age=None)
    assert result.parameters["keyid"] == "test-key-ed25519"
    ContentDigest.verify(RFC_HEADERS[3][1], RFC_BODY)  # B.2.6 does not cover the digest; it is right all the same
    changed = [(n, "Tue, 20 Apr 2021 02:07:56 GMT" if n == "Date" else v) for n, v in signed]
    with pytest.raises(InvalidSignature):
        verifier.verify(rfc_message(changed), max_age=None)


def test_our_policy_refuses_the_rfc_request_as_a_kiosk_request():
    """Valid by the RFC, but without our tag, nonce and coverage of path, query and body digest."""
    signed = [*RFC_HEADERS, ("Signature-Input", RFC_INPUT), ("Signature", RFC_SIGNATURE)]
    with pytest.raises(KioskSignatureInvalid, match="tag"):
        signatures.read_signature_input(signed)


def kiosk_request(key, created, body=b'{"health": {}}', path="/kiosk/v1/heartbeat", query=""):
    message = SignedMessage("POST", path, query, [("content-type", "application/json")], body)
    return message, signatures.sign_request(message, key, "kiosk-1", created=created)


def test_a_kiosk_signature_covers_method_path_query_and_body_digest():
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    message, headers = kiosk_request(key, 1_800_000_000, query="a=1")
    claimed = signatures.read_signature_input(headers)
    assert claimed.key_id == "kiosk-1" and claimed.created == 1_800_000_000
    assert signatures.NONCE.fullmatch(claimed.nonce)
    signed = SignedMessage(message.method, message.path, message.query, headers, message.body)
    signatures.verify(signed, claimed, public, now=1_800_000_030, window_seconds=60)
    for changed in (SignedMessage("PUT", signed.path, signed.query, headers, signed.body),
                    SignedMessage(signed.method, "/kiosk/v1/other", signed.query, headers, signed.body),
                    SignedMessage(signed.method, signed.path, "a=2", headers, signed.body),
                    SignedMessage(signed.method, signed.path, signed.query, headers, b'{"health": 1}')):
        with pytest.raises(KioskSignatureInvalid):
            signatures.verify(changed, claimed, public, now=1_800_000_030, window_seconds=60)
    with pytest.raises(KioskSignatureStale):
        signatures.verify(signed, claimed, public, now=1_800_000_061, window_seconds=60)
    with pytest.raises(KioskSignatureStale):
        signatures.verify(signed, claimed, public, now=1_799_999_939, window_seconds=60)


@pytest.mark.parametrize("tamper, message", [
    (lambda v: v.replace(';nonce="', ';nonce="!'), "nonce"),
    (lambda v: v.replace('tag="tongban-kiosk"', 'tag="other"'), "tag"),
    (lambda v: v + ', second=("@method");created=1;keyid="x"', "exactly one"),
    (lambda v: "not a dictionary (", "structured"),
])
def test_malformed_signature_inputs_are_refused_before_any_lookup(tamper, message):
    _, headers = kiosk_request(Ed25519PrivateKey.generate(), 1_800_000_000)
    changed = [(n, tamper(v) if n == "Signature-Input" else v) for n, v in headers]
    with pytest.raises(KioskSignatureInvalid, match=message):
        signatures.read_signature_input(changed)
