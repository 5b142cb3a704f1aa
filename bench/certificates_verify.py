"""Offline certificate verification on one core: `verify_qr` on a real residence-permit QR text against
a nationwide trust list and a revocation list, compared with a bare Ed25519 verification of the same
signed bytes (the floor no verifier can beat) measured in the same run.

    python bench/certificates_verify.py [--seconds S] [--keys N] [--revoked N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import zlib
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import base45  # noqa: E402
import cbor2  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from backend.certificates import qr_format as qr  # noqa: E402
from backend.certificates.trust_lists import (  # noqa: E402
    RevocationList,
    RevokedEntry,
    TrustList,
    revocation_list_document,
    signing_key_jwk,
    trust_list_document,
)
from backend.certificates.verifier import verify_qr  # noqa: E402
from backend.identity.divisions import PROVINCES  # noqa: E402

NOW = int(time.time())
PROVINCE_CODES = sorted(PROVINCES)


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per second over about `seconds`, after a short warm-up."""
    for _ in range(200):
        work()
    calls, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            work()
        calls += 100
    return calls / (time.perf_counter() - started)


def fixture(keys: int, revoked: int) -> tuple[str, TrustList, RevocationList, Ed25519PrivateKey]:
    """A QR text signed by one of `keys` issuer keys spread over every province."""
    private = [Ed25519PrivateKey.generate() for _ in range(keys)]
    jwks = [signing_key_jwk(key.public_key(), issuer=f"{PROVINCE_CODES[i % len(PROVINCE_CODES)]}-dept{i}",
                            issuer_name="签发机关", division=PROVINCE_CODES[i % len(PROVINCE_CODES)],
                            status="active", valid_from=NOW - 86400,
                            certificate_types=["residence_permit", "driving_licence"]) for i, key in enumerate(private)]
    trust = TrustList.of(trust_list_document(jwks, NOW, NOW + 86400))
    signer = keys // 2
    claims = qr.Claims(
        issuer=jwks[signer].issuer, issued_at=NOW - 60, expires_at=NOW + 365 * 86400,
        certificate=qr.CertificateClaim(
            version=1, number=f"{jwks[signer].issuer}-2026-00000001", certificate_type="residence_permit",
            holder=qr.HolderClaim("citizen", "王建国", "5101**********0010"),
            fields={"residence_division": "330106", "residence_address": "杭州市西湖区文三路 90 号",
                    "registered_on": "2025-09-01"}))
    text = qr.sign(claims, private[signer], qr.key_id(private[signer].public_key()))
    entries = [RevokedEntry(number=f"330100-ga-2026-{n:08d}", issuer="330100-ga", revoked_at=NOW - 10,
                            reason="withdrawn", expires_at=NOW + 86400) for n in range(revoked)]
    return text, trust, RevocationList.of(revocation_list_document(entries, NOW, NOW + 3600)), private[signer]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--keys", type=int, default=340, help="issuer keys in the trust list")
    parser.add_argument("--revoked", type=int, default=10_000, help="entries in the revocation list")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the figure claims

    text, trust, revocations, key = fixture(args.keys, args.revoked)
    message = cbor2.loads(zlib.decompress(base45.b45decode(text[len(qr.PREFIX):])))
    protected, _, payload, signature = message.value
    signed = qr.sig_structure(protected, payload)
    public = key.public_key()
    assert verify_qr(text, trust, revocations, at=NOW).valid

    baseline = rate(lambda: public.verify(signature, signed), args.seconds)
    full = rate(lambda: verify_qr(text, trust, revocations, at=NOW), args.seconds)
    decode_only = rate(lambda: qr.open_message(text), args.seconds)

    print(f"## Offline certificate verification, one core ({platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()})")
    print()
    print(f"QR text {len(text)} characters; trust list {args.keys} keys; revocation list {args.revoked:,} entries; "
          f"{args.seconds:g} s per row.")
    print()
    print("| measurement | per second | µs each | vs bare Ed25519 |")
    print("|---|---:|---:|---:|")
    for name, value in (("baseline: bare Ed25519 verify of the same bytes (cryptography)", baseline),
                        ("verify_qr: prefix, Base45, bounded zlib, COSE, kid lookup, signature, claims, "
                         "revocation, validity", full),
                        ("of which decoding only (prefix, Base45, zlib, COSE envelope, header)", decode_only)):
        print(f"| {name} | {value:,.0f} | {1e6 / value:.1f} | {value / baseline:.2f} |")
    print()
    goal = 2000
    print(f"goal ≥ {goal:,} verifications/s per core: {'met' if full >= goal else 'NOT met'} ({full:,.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
