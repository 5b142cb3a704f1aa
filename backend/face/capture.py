"""Where a face check's pictures come from: the client's address and device, and the capture's
provenance — how far the server can trust that the frames came from a camera in front of the person.

Provenance kinds:
- `unattested`: an ordinary phone or browser; the frames could have come from anywhere;
- `android-key-attestation`, `app-attest`: our genuine app on a phone whose key is held in secure
  hardware signed the frames (Android Key Attestation, Apple App Attest);
- `kiosk:<id>`: a registered kiosk, authenticated by its device credential, captured them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNATTESTED = "unattested"
ATTESTED_KINDS = frozenset({"android-key-attestation", "app-attest"})
# ASCII only and anchored with fullmatch: no trailing newline slips through.
_CAPTURE = re.compile(r"unattested|android-key-attestation|app-attest|kiosk:[A-Za-z0-9._-]{1,64}")


def valid_capture(capture: str) -> bool:
    """True for a provenance this service knows how to record."""
    return _CAPTURE.fullmatch(capture) is not None


@dataclass(frozen=True, slots=True)
class FaceClient:
    """Where an attempt comes from: the network address, the device id the client names, and the
    capture's provenance.

    The device id is a hint only (any client can send any id); the per-person and per-session
    limits are the controls that count. `capture` is set by the server from what it verified (a
    kiosk's credential, an attested key's signature), never taken from what a client claims.
    """

    address: str
    device: str | None = None
    capture: str = UNATTESTED

    def __post_init__(self) -> None:
        if not valid_capture(self.capture):
            raise ValueError(f"unknown capture provenance {self.capture!r}")
