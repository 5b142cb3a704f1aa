"""Where a face check's pictures come from: the client's address and device, and the capture's
provenance — how far the server can trust that the frames came from a camera in front of the person —
and which provenances each use accepts.

Provenance kinds:
- `unattested`: an ordinary phone or browser; the frames could have come from anywhere;
- `android-key-attestation`, `app-attest`: our genuine app on a phone whose key is held in secure
  hardware signed the frames (Android Key Attestation, Apple App Attest);
- `kiosk:<id>`: a registered kiosk, authenticated by its device credential, captured them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

UNATTESTED = "unattested"
ATTESTED_KINDS = frozenset({"android-key-attestation", "app-attest"})
# ASCII only and anchored with fullmatch: no trailing newline slips through.
_CAPTURE = re.compile(r"unattested|android-key-attestation|app-attest|kiosk:[A-Za-z0-9._-]{1,64}")


CLASSES = ("unattested", "attested", "kiosk")


def capture_class(capture: str) -> str:
    """`unattested`, `attested` (either platform's attestation) or `kiosk` (any registered kiosk)."""
    if capture in ATTESTED_KINDS:
        return "attested"
    return "kiosk" if capture.startswith("kiosk:") else UNATTESTED


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


@dataclass(frozen=True, slots=True)
class CapturePolicies:
    """Which capture classes each use accepts, e.g. a bank-account change only attested or kiosk ones.

    Written `use=class,class;use=class` (`TONGBAN_FACE_CAPTURE_POLICIES`). A use nobody configured is
    a programming error, not an open door: asking about it raises `KeyError`."""

    rules: Mapping[str, frozenset[str]]

    @classmethod
    def parse(cls, text: str) -> CapturePolicies:
        rules: dict[str, frozenset[str]] = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            use, _, classes = part.partition("=")
            accepted = frozenset(c.strip() for c in classes.split(",") if c.strip())
            if not re.fullmatch(r"[a-z0-9-]{1,64}", use.strip()) or not accepted or accepted - set(CLASSES):
                raise ValueError(f"capture policy {part!r}: write use=class,class with classes {', '.join(CLASSES)}")
            rules[use.strip()] = accepted
        return cls(rules)

    def accepts(self, use: str, capture: str) -> bool:
        return capture_class(capture) in self.rules[use]

    def accepted(self, use: str) -> list[str]:
        """The classes `use` accepts, in order from weakest to strongest."""
        return [c for c in CLASSES if c in self.rules[use]]
