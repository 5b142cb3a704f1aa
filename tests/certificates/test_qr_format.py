"""The QR text round-trips through offline verification, and every kind of tampering is refused with
its own reason. Pure functions: no database, exactly what an offline verifier runs."""

from __future__ import annotations

import tracemalloc
import zlib

import base45
import cbor2
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.certificates import qr_format as qr
from backend.certificates.trust_lists import (
    RevocationList,
    RevokedEntry,
    TrustedKey,
    TrustList,
    revocation_list_document,
    signing_key_jwk,
    trust_list_document,
)
from backend.certificates.verifier import verify_qr

NOW = 1_780_000_000
YEAR = 365 * 24 * 3600
ISSUER_KEY = Ed25519PrivateKey.generate()
STRANGER_KEY = Ed25519PrivateKey.generate()
KID = qr.key_id(ISSUER_KEY.public_key())


def claims(**changes: object) -> qr.Claims:
    values: dict = {
        "issuer": "330100-ga", "issued_at": NOW, "expires_at": NOW + YEAR,
        "certificate": qr.CertificateClaim(
            version=1, number="330100-ga-2026-00000001", certificate_type="residence_permit",
            holder=qr.HolderClaim("citizen", "王建国", "5101**********0010"),
            fields={"residence_division": "330106", "residence_address": "杭州市西湖区文三路 90 号",
                    "registered_on": "2025-09-01"}),
    }
    return qr.Claims(**(values | changes))


def trust(*keys: tuple[Ed25519PrivateKey, str], **jwk: object) -> TrustList:
    members = {"issuer_name": "杭州市公安局", "division": "330100", "status": "active", "valid_from": NOW - YEAR,
               "certificate_types": ["residence_permit", "driving_licence"]} | jwk
    entries = [signing_key_jwk(key.public_key(), issuer=issuer, **members) for key, issuer in keys]
    return TrustList.of(trust_list_document(entries, NOW, NOW + 86400))


TRUST = trust((ISSUER_KEY, "330100-ga"))
TEXT = qr.sign(claims(), ISSUER_KEY, KID)


def rewrap(message: object) -> str:
    """Compress and encode a (possibly forged) COSE message the way a real QR text is."""
    return qr.PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(message))).decode()


def envelope(text: str = TEXT) -> list:
    return list(cbor2.loads(zlib.decompress(base45.b45decode(text[len(qr.PREFIX):]))).value)


def reason(text: str, **kwargs: object) -> str | None:
    return verify_qr(text, kwargs.pop("trust", TRUST), at=kwargs.pop("at", NOW + 60), **kwargs).reason


def test_a_certificate_round_trips_from_qr_text_to_verification():
    result = verify_qr(TEXT, TRUST, at=NOW + 60)

    assert result.valid and result.reason is None
    assert TEXT.startswith("TB1:") and len(TEXT) < 600
    assert result.issuer.id == "330100-ga" and result.issuer.name == "杭州市公安局"
    assert result.certificate.number == "330100-ga-2026-00000001"
    assert result.certificate.holder.identifier == "5101**********0010"
    assert result.certificate.fields["residence_address"] == "杭州市西湖区文三路 90 号"
    assert result.certificate.type_name == "居住证"
    assert result.certificate.expires_at.timestamp() == NOW + YEAR


def test_truncated_text_is_malformed():
    for cut in (1, 2, 3, 30, len(TEXT) // 2):
        assert reason(TEXT[:-cut]) == "malformed", cut


def test_an_altered_payload_byte_breaks_the_signature():
    protected, unprotected, payload, signature = envelope()
    altered = bytearray(payload)
    altered[-5] ^= 0x01

    assert reason(rewrap(cbor2.CBORTag(18, [protected, unprotected, bytes(altered), signature]))) == "bad-signature"


def test_an_altered_signature_or_header_is_refused():
    protected, unprotected, payload, signature = envelope()
    flipped = bytes([signature[0] ^ 0x80]) + signature[1:]

    assert reason(rewrap(cbor2.CBORTag(18, [protected, unprotected, payload, flipped]))) == "bad-signature"
    assert reason(rewrap(cbor2.CBORTag(18, [protected, unprotected, payload, signature[:-1]]))) == "bad-signature"


def test_every_character_change_in_the_text_is_caught():
    body = TEXT[len(qr.PREFIX):]
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    for position in range(0, len(body), 7):
        replacement = alphabet[(alphabet.index(body[position]) + 1) % len(alphabet)]
        tampered = qr.PREFIX + body[:position] + replacement + body[position + 1:]
        result = verify_qr(tampered, TRUST, at=NOW + 60)
        assert not result.valid and result.reason in {"malformed", "bad-signature", "unknown-issuer",
                                                      "wrong-algorithm"}, position


def test_re_signed_with_an_unknown_key_under_a_trusted_kid_is_a_bad_signature():
    forged = qr.sign(claims(certificate=claims().certificate), STRANGER_KEY, KID)

    assert reason(forged) == "bad-signature"


def test_an_unknown_kid_is_an_unknown_issuer():
    forged = qr.sign(claims(), STRANGER_KEY, qr.key_id(STRANGER_KEY.public_key()))

    assert reason(forged) == "unknown-issuer"


def test_every_key_sharing_a_kid_is_tried():
    wrong = TrustedKey(KID, STRANGER_KEY.public_key(), TRUST.by_kid[KID][0].jwk)
    shared = TrustList(TRUST.document, {KID: [wrong, *TRUST.by_kid[KID]]})

    assert verify_qr(TEXT, shared, at=NOW + 60).valid
    assert verify_qr(TEXT, TrustList(TRUST.document, {KID: [wrong]}), at=NOW + 60).reason == "bad-signature"


@pytest.mark.parametrize("header", [{1: -7, 4: KID}, {1: "EdDSA", 4: KID}, {4: KID}, {1: -8, 4: KID, 2: [99]}])
def test_a_protected_header_with_the_wrong_algorithm_is_refused(header):
    protected = cbor2.dumps(header)
    payload = claims().to_cbor()
    signature = ISSUER_KEY.sign(qr.sig_structure(protected, payload))
    text = rewrap(cbor2.CBORTag(18, [protected, {}, payload, signature]))

    assert reason(text) == ("malformed" if 2 in header else "wrong-algorithm")


def test_an_algorithm_only_in_the_unprotected_header_does_not_count():
    protected = cbor2.dumps({4: KID})
    payload = claims().to_cbor()
    signature = ISSUER_KEY.sign(qr.sig_structure(protected, payload))

    assert reason(rewrap(cbor2.CBORTag(18, [protected, {1: -8}, payload, signature]))) == "wrong-algorithm"


def test_oversized_input_is_refused_before_decoding():
    assert reason("TB1:" + "A" * 5000) == "too-large"
    assert reason(TEXT + "0" * qr.MAX_QR_TEXT) == "too-large"


def test_a_zlib_bomb_stops_at_the_decompression_limit():
    bomb = zlib.compress(b"\x00" * 1_500_000, 9)
    text = qr.PREFIX + base45.b45encode(bomb).decode()
    assert len(text) <= qr.MAX_QR_TEXT  # it fits in a QR code, so only the inflate bound can stop it

    tracemalloc.start()
    result = reason(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert result == "too-large"
    assert peak < 1_000_000  # 1.5 MB were never inflated


def test_a_wrong_prefix_is_refused():
    body = TEXT[len(qr.PREFIX):]
    for text in ("HC1:" + body, "TB2:" + body, body, "tb1:" + body, ""):
        assert reason(text) == "wrong-prefix", text[:4]


@pytest.mark.parametrize("message", [
    b"\xff\xfe\xfd",                                     # not CBOR
    cbor2.dumps([b"", {}, b""]),                        # three items
    cbor2.dumps(cbor2.CBORTag(98, [b"", {}, b"", b""])),  # COSE_Sign, not COSE_Sign1
    cbor2.dumps(cbor2.CBORTag(18, ["a", {}, b"", b""])),  # protected header not a bstr
    cbor2.dumps(cbor2.CBORTag(18, [b"\xa1\x01", {}, b"", b""])),  # protected header truncated
    cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -8}), {}, b"", b"x" * 64])),  # no kid
], ids=["garbage", "short-array", "other-tag", "header-type", "header-cbor", "no-kid"])
def test_malformed_cbor_is_refused(message):
    text = qr.PREFIX + base45.b45encode(zlib.compress(message)).decode()

    assert reason(text) == "malformed"


def test_invalid_base45_and_a_non_zlib_body_are_malformed():
    assert reason("TB1:!!!!") == "malformed"
    assert reason(qr.PREFIX + base45.b45encode(cbor2.dumps(envelope())).decode()) == "malformed"


def test_signed_garbage_is_refused_only_after_the_signature_checks():
    protected = qr.protected_header(KID)
    for payload in (b"\xff", cbor2.dumps([1, 2]), cbor2.dumps({1: "330100-ga", 6: NOW, 4: NOW + 9, -65537: {"v": 2}})):
        signature = ISSUER_KEY.sign(qr.sig_structure(protected, payload))
        result = verify_qr(rewrap(cbor2.CBORTag(18, [protected, {}, payload, signature])), TRUST, at=NOW)
        assert result.reason == "malformed" and result.issuer is not None  # the signature was good


def current(trust_list: TrustList, at: int) -> TrustList:
    """The same keys in a list fetched just before `at`, as a verifier that refreshes would hold."""
    return TrustList.of(trust_list_document(trust_list.document.keys, at - 60, at + 86400))


def test_expiry_and_not_yet_valid():
    assert reason(TEXT, at=NOW + YEAR - 1, trust=current(TRUST, NOW + YEAR - 1)) is None
    assert reason(TEXT, at=NOW + YEAR, trust=current(TRUST, NOW + YEAR)) == "expired"
    assert reason(TEXT, at=NOW - 3600) == "not-yet-valid"
    assert reason(TEXT, at=NOW - 60) is None  # within the allowed clock skew
    later = qr.sign(claims(not_before=NOW + 86400), ISSUER_KEY, KID)
    assert reason(later, at=NOW + 3600) == "not-yet-valid"
    assert reason(later, at=NOW + 86400) is None


def test_a_key_of_one_issuer_cannot_sign_for_another():
    forged = qr.sign(claims(issuer="510000-gat"), ISSUER_KEY, KID)

    result = verify_qr(forged, TRUST, at=NOW + 60)

    assert result.reason == "unknown-issuer" and "510000-gat" in result.detail


def test_a_retired_key_cannot_sign_after_its_retirement():
    retired = trust((ISSUER_KEY, "330100-ga"), status="retired", signing_until=NOW - 86400, listed_until=NOW + YEAR)

    assert reason(qr.sign(claims(issued_at=NOW - 2 * 86400), ISSUER_KEY, KID), trust=retired) is None
    assert reason(TEXT, trust=retired) == "unknown-issuer"


def test_offline_revocation_through_the_revocation_list():
    entry = RevokedEntry(number="330100-ga-2026-00000001", issuer="330100-ga", revoked_at=NOW + 10,
                         reason="issued-in-error", expires_at=NOW + YEAR)
    fresh = RevocationList.of(revocation_list_document([entry], NOW, NOW + 3600))
    other = RevocationList.of(revocation_list_document([], NOW, NOW + 3600))

    revoked = verify_qr(TEXT, TRUST, fresh, at=NOW + 60)
    clean = verify_qr(TEXT, TRUST, other, at=NOW + 60)
    stale = verify_qr(TEXT, TRUST, other, at=NOW + 7200)

    assert revoked.reason == "revoked" and revoked.revocation == "revoked" and "issued-in-error" in revoked.detail
    assert clean.valid and clean.revocation == "not-revoked"
    assert stale.valid and stale.revocation == "list-outdated" and "revocation-list-outdated" in stale.warnings
    assert verify_qr(TEXT, TRUST, at=NOW + 60).revocation == "unchecked"


def test_an_outdated_trust_list_is_flagged():
    result = verify_qr(TEXT, TRUST, at=NOW + 2 * 86400)

    assert result.valid and result.warnings == ["trust-list-outdated"]



def _signed_with_header(header: object) -> str:
    protected = cbor2.dumps(header)
    payload = claims().to_cbor()
    return rewrap(cbor2.CBORTag(18, [protected, {}, payload, ISSUER_KEY.sign(qr.sig_structure(protected, payload))]))


def test_an_algorithm_must_be_the_integer_minus_8():
    # A float that equals -8 is not the integer -8, and a label must be an integer, not 1.0 or True.
    assert reason(_signed_with_header({1: -8.0, 4: KID})) == "wrong-algorithm"
    assert reason(_signed_with_header({1.0: -8, 4: KID})) == "malformed"
    assert reason(_signed_with_header({True: -8, 4: KID})) == "malformed"


def test_a_bignum_algorithm_is_refused_not_printed():
    # 10**5000 cannot be turned into text under Python's default limits; it must never need to be.
    huge = verify_qr(_signed_with_header({1: 10**5000, 4: KID}), TRUST, at=NOW + 60)
    # A bignum is a tagged byte string (tag 2); refused like every tag, so integers stay within 64 bits.
    small = verify_qr(_signed_with_header({1: cbor2.CBORTag(2, b"\x01" + b"\x00" * 9), 4: KID}), TRUST, at=NOW + 60)

    assert not huge.valid and huge.reason in {"too-large", "malformed"}
    assert small.reason == "malformed" and "tag" in small.detail


@pytest.mark.parametrize("tag", [0, 1, 2, 3, 4, 5, 21, 24, 25, 28, 29, 30, 32, 33, 35, 36, 37, 52, 54, 100, 256, 258,
                                 260, 261, 1004, 55799, 2**32])
def test_no_cbor_tag_but_cose_sign1_is_accepted_anywhere(tag):
    protected, unprotected, payload, signature = envelope()
    inner = qr.protected_header(KID)
    signed_tagged = cbor2.dumps({**cbor2.loads(payload), 7: cbor2.CBORTag(tag, b"\x01")})

    in_header = rewrap(cbor2.CBORTag(18, [cbor2.dumps({1: -8, 4: KID, 33: cbor2.CBORTag(tag, 1)}), {}, payload,
                                         signature]))
    outer = qr.PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(tag, [protected, unprotected,
                                                                                        payload, signature])))).decode()
    in_claims = rewrap(cbor2.CBORTag(18, [inner, {}, signed_tagged,
                                          ISSUER_KEY.sign(qr.sig_structure(inner, signed_tagged))]))

    assert reason(in_header) == "malformed"
    assert reason(outer) == "malformed"
    assert reason(in_claims) == "malformed"


@pytest.mark.parametrize("field,value", [(6, 2**63), (4, 2**64 - 1), (5, -1), (6, 253402300800)])
def test_times_beyond_the_calendar_are_malformed(field, value):
    payload = cbor2.loads(claims().to_cbor()) | {field: value}
    encoded = cbor2.dumps(payload)
    protected = qr.protected_header(KID)
    text = rewrap(cbor2.CBORTag(18, [protected, {}, encoded, ISSUER_KEY.sign(qr.sig_structure(protected, encoded))]))

    assert reason(text) == "malformed"


def test_a_trust_list_long_past_its_next_update_no_longer_vouches():
    from backend.certificates.verifier import LIST_GRACE_SECONDS

    expires = TRUST.document.next_update + LIST_GRACE_SECONDS
    lenient = verify_qr(TEXT, TRUST, at=expires)
    expired = verify_qr(TEXT, TRUST, at=expires + 1)
    strict = verify_qr(TEXT, TRUST, at=TRUST.document.next_update + 1, list_grace_seconds=0)

    assert lenient.valid and lenient.warnings == ["trust-list-outdated"]
    assert expired.reason == strict.reason == "trust-list-expired" and not expired.valid
    assert expired.certificate is None  # nothing read from a QR is shown on an expired list's word


def test_a_revocation_list_long_past_its_next_update_no_longer_vouches():
    from backend.certificates.verifier import LIST_GRACE_SECONDS

    revocations = RevocationList.of(revocation_list_document([], NOW, NOW + 3600))
    at = NOW + 3600 + LIST_GRACE_SECONDS + 1

    result = verify_qr(TEXT, current(TRUST, at), revocations, at=at)

    assert not result.valid and result.reason == "revocation-list-expired" and result.revocation == "list-outdated"


def test_a_key_signs_only_the_certificate_types_its_authority_issues():
    licence = qr.sign(claims(certificate=msgspec.structs.replace(
        claims().certificate, certificate_type="business_licence",
        fields={"entity_type": "有限责任公司", "business_scope": "软件开发"})), ISSUER_KEY, KID)

    result = verify_qr(licence, TRUST, at=NOW + 60)

    assert result.reason == "unknown-issuer" and "business_licence" in result.detail
    assert reason(TEXT) is None  # a residence permit, which this key may sign


@pytest.mark.parametrize("length", [0, 1, 2, 3, 44, 45, 399, 400])
def test_our_base45_writes_what_the_base45_package_writes(length):
    import os

    data = os.urandom(length)
    assert qr.b45encode(data) == base45.b45encode(data).decode("ascii")
    assert qr.b45encode(b"\xff" * length) == base45.b45encode(b"\xff" * length).decode("ascii")
