"""Who is acting: carried from the HTTP layer into every use case and into the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["citizen", "staff", "kiosk", "system", "anonymous"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    request_id: str | None = None
    role: str | None = None
    division: str | None = None
    assurance_level: str = "L1"
    session_id: str | None = None
    # At a kiosk: the device the person acts through, and who operates it for them (帮办代办), as
    # "staff:<id>" or "relative:<citizen id>". Every audit entry of such an actor names both.
    device: str | None = None
    assisted_by: str | None = None

    @classmethod
    def system(cls, request_id: str | None = None) -> Actor:
        return cls(kind="system", id="tongban", request_id=request_id)


def who(actor: Actor) -> str:
    """The actor as stored with what they did (`issued_by`, `revoked_by`) and as a rate-limit subject."""
    return f"{actor.kind}:{actor.id or '-'}"
