"""Whatever text is scanned, `verify_qr` answers with a refusal and a reason — it never raises.

Property-based: hypothesis builds hostile inputs at every layer an attacker controls — the raw text,
the COSE envelope, the protected header, and (signed with a trusted key, so the code after the
signature check runs too) the claims. Derandomised, so every run explores the same cases.
"""

from __future__ import annotations

import zlib

import base45
import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.certificates import qr_format as qr
from backend.certificates.schemas import Verification
from backend.certificates.verifier import verify_qr
from tests.certificates.test_qr_format import ISSUER_KEY, KID, NOW, TRUST, claims

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# Built lazily: an integer of 5,000 digits cannot even be printed with Python's default limits.
HUGE_INTEGERS = (st.sampled_from([2**64, -(2**64) - 1, 2**64 - 1, -(2**64), 2**63, -(2**63)])
                 | st.integers(min_value=4400, max_value=5000).map(lambda digits: 10**digits)
                 | st.integers(min_value=4400, max_value=5000).map(lambda digits: -(10**digits)))
TAGS = st.sampled_from([0, 1, 2, 3, 4, 5, 18, 24, 25, 28, 29, 30, 32, 35, 36, 37, 52, 54, 98, 100, 256, 258, 260,
                        261, 1004, 55799, 2**32])
SCALARS = (st.none() | st.booleans() | st.integers() | HUGE_INTEGERS | st.floats() | st.binary(max_size=40)
           | st.text(max_size=20) | st.just(-8) | st.just(-8.0) | st.just(KID))
KEYS = st.integers(min_value=-70000, max_value=70000) | st.text(max_size=4) | st.sampled_from([1.0, True, -65537])
CBOR_VALUES = st.recursive(
    SCALARS,
    lambda inner: (st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5)
                   | st.builds(cbor2.CBORTag, TAGS, inner)),
    max_leaves=25)


def rewrap(message: bytes) -> str:
    return qr.PREFIX + base45.b45encode(zlib.compress(message)).decode()


def encode(value: object) -> bytes | None:
    """CBOR for a generated value; None when cbor2 itself cannot encode it (then nothing to test)."""
    try:
        return cbor2.dumps(value)
    except (cbor2.CBOREncodeError, TypeError, ValueError, OverflowError):
        return None


def verify_signed(payload: bytes) -> Verification:
    """Verify claims signed by the trusted key, as only their issuer could make them."""
    protected = qr.protected_header(KID)
    signature = ISSUER_KEY.sign(qr.sig_structure(protected, payload))
    result = verify_qr(rewrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))), TRUST,
                       at=NOW + 60)
    assert isinstance(result, Verification) and result.detail
    return result


def assert_refused_cleanly(text: str) -> Verification:
    result = verify_qr(text, TRUST, at=NOW + 60)
    assert isinstance(result, Verification)
    assert result.valid is False and result.reason is not None and result.detail
    return result


@FUZZ
@given(st.text(max_size=200) | st.text(alphabet=BASE45_ALPHABET, max_size=300).map(lambda s: qr.PREFIX + s))
def test_any_text_is_refused_with_a_reason(text):
    assert_refused_cleanly(text)


@FUZZ
@given(CBOR_VALUES)
def test_any_cbor_envelope_is_refused_with_a_reason(envelope):
    message = encode(envelope)
    if message is not None:
        assert_refused_cleanly(rewrap(message))


@FUZZ
@given(st.dictionaries(st.sampled_from([1, 2, 4, 1.0, True, 33]), CBOR_VALUES, max_size=4), CBOR_VALUES)
def test_any_protected_header_is_refused_with_a_reason(header, unprotected):
    protected = encode(header)
    if protected is None:
        return
    payload = claims().to_cbor()
    signature = ISSUER_KEY.sign(qr.sig_structure(protected, payload))
    message = encode(cbor2.CBORTag(18, [protected, unprotected if isinstance(unprotected, dict) else {},
                                        payload, signature]))
    if message is not None and len(rewrap(message)) <= qr.MAX_QR_TEXT:
        assert_refused_cleanly(rewrap(message))


@FUZZ
@given(st.dictionaries(st.sampled_from([1, 4, 5, 6, -65537, 1.0, True]), CBOR_VALUES, max_size=6),
       st.dictionaries(st.sampled_from(["v", "no", "t", "h", "f", "x"]), CBOR_VALUES, max_size=6))
def test_any_signed_claims_are_answered_without_an_error(claim_map, certificate):
    """Signed by a trusted key: only the issuer could produce these, but the verifier must still answer."""
    if -65537 in claim_map and isinstance(claim_map[-65537], dict):
        claim_map[-65537] = certificate
    payload = encode(claim_map)
    if payload is not None:
        verify_signed(payload)


@FUZZ
@given(st.fixed_dictionaries({
    1: st.just("330100-ga"),
    6: st.integers() | HUGE_INTEGERS,
    4: st.integers() | HUGE_INTEGERS,
    5: st.none() | st.integers() | HUGE_INTEGERS,
}))
def test_signed_times_of_any_size_are_answered_without_an_error(times):
    """Times are NumericDates; absurd ones (beyond 64 bits, or past year 9999) must not break the answer."""
    values = {k: v for k, v in times.items() if v is not None}
    values[-65537] = {"v": 1, "no": "330100-ga-2026-00000001", "t": "residence_permit",
                      "h": {"k": "citizen", "n": "王建国", "id": "5101**********0010"}, "f": {}}
    payload = encode(values)
    if payload is not None:
        verify_signed(payload)
