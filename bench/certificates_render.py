"""Certificate pictures on one core: the QR code PNG and the printable A4 page (PNG, PDF) as the wallet
and the staff window serve them, against the same page written with Pillow's `optimize=True` (what the
first version did) measured in the same run. CPU time per picture; only the ratios compare.

    python bench/certificates_render.py [--rounds N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from backend.certificates import render  # noqa: E402
from backend.certificates.qr_format import CertificateClaim, Claims, HolderClaim, key_id, sign  # noqa: E402
from backend.certificates.schemas import CertificateView, HolderView  # noqa: E402

FIELDS = {"residence_division": "330106", "residence_address": "杭州市西湖区文三路 90 号", "registered_on": "2025-09-01"}


def certificate() -> tuple[CertificateView, str]:
    """A residence permit as issued: its view and its signed QR text."""
    key = Ed25519PrivateKey.generate()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expires = now + dt.timedelta(days=365)
    text = sign(Claims("330100-ga", int(now.timestamp()), int(expires.timestamp()), CertificateClaim(
        1, "330100-ga-2026-00000001", "residence_permit", HolderClaim("citizen", "王建国", "5101**********0010"),
        FIELDS)), key, key_id(key.public_key()))
    view = CertificateView(
        id=uuid.uuid4(), number="330100-ga-2026-00000001", certificate_type="residence_permit", type_name="居住证",
        authority_id="330100-ga", authority_name="杭州市公安局", division_code="330100",
        holder=HolderView("citizen", "王建国", "5101**********0010"), fields=FIELDS, issued_at=now, valid_from=now,
        expires_at=expires, status="valid", kid="x")
    return view, text


def cpu_ms(work: Callable[[], bytes], rounds: int) -> tuple[float, int]:
    """(CPU milliseconds per call, bytes produced) over `rounds` calls after one warm-up call."""
    work()
    started = time.process_time()
    for _ in range(rounds):
        size = len(work())
    return (time.process_time() - started) / rounds * 1000, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    view, text = certificate()

    def optimized_page() -> bytes:
        buffer = io.BytesIO()
        render.certificate_page(view, text).save(buffer, format="PNG", dpi=(render.DPI, render.DPI), optimize=True)
        return buffer.getvalue()

    baseline, baseline_size = cpu_ms(optimized_page, args.rounds)
    rows = [("baseline: A4 page PNG with `optimize=True` (the first version)", baseline, baseline_size),
            ("A4 page PNG (`printout.png`)", *cpu_ms(lambda: render.certificate_png(view, text), args.rounds)),
            ("A4 page PDF (`printout.pdf`)", *cpu_ms(lambda: render.certificate_pdf(view, text), args.rounds)),
            ("QR code PNG (`qr.png`)", *cpu_ms(lambda: render.qr_png(text), args.rounds))]

    print(f"## Certificate pictures, one core ({platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()})")
    print()
    print(f"QR text {len(text)} characters; {args.rounds} rounds per row.")
    print()
    print("| picture | ms CPU each | bytes | vs baseline |")
    print("|---|---:|---:|---:|")
    for name, ms, size in rows:
        print(f"| {name} | {ms:.1f} | {size:,} | {ms / baseline:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
