"""Wire shapes of face verification. No image and no template ever appears in any of them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.identifiers import TOKEN_43, VISIBLE, whole
from backend.identity.schemas import Level, TokenPair
from ml_models.liveness import Action

EnrolmentSource = Literal["service_window", "kiosk_chip_photo"]
Movement = Literal["any", "turn", "nod"]


class FaceReason(msgspec.Struct, omit_defaults=True):
    """Why a check did not pass: a stable code and what to tell the person."""

    code: str
    zh: str
    en: str
    frame: int | None = None  # which liveness frame (0-based), when it concerns one


class FaceQuality(msgspec.Struct):
    """What the enrolment photo measured; shown to staff so they can retake a poor one."""

    face_pixels: float
    yaw: float
    pitch: float
    roll: float
    sharpness: float
    brightness: float
    detection_score: float


class FaceEnrolment(msgspec.Struct):
    citizen_id: uuid.UUID
    enrolled_at: dt.datetime
    source: EnrolmentSource
    model: str
    quality: FaceQuality
    replaced: bool = False


class FaceEnrolmentStatus(msgspec.Struct):
    enrolled: bool
    enrolled_at: dt.datetime | None = None
    source: EnrolmentSource | None = None
    model: str | None = None
    last_verified_at: dt.datetime | None = None
    last_verified_level: Level | None = None
    attempts_left: int | None = None
    alternatives: list[str] = msgspec.field(default_factory=list)


class FaceChecks(msgspec.Struct):
    """Which checks ran. `passive_anti_spoofing` is `not-present` until a model is installed."""

    match: bool
    liveness: Literal["none", "active-challenge"]
    passive_anti_spoofing: str


class FaceVerified(msgspec.Struct):
    """A passed check: the session's new assurance level and the tokens that carry it, and the
    provenance of the capture it was made on (`unattested`, `android-key-attestation`, `app-attest`,
    `kiosk:<id>`)."""

    decision: Literal["match"]
    assurance_level: Level
    checks: FaceChecks
    tokens: TokenPair
    capture: str = "unattested"


class FaceDecision(msgspec.Struct):
    """A passed check of a named person run by another actor (see `backend/face/on_behalf.py`): the
    decision with what it rests on; no session is raised and no token issued."""

    decision: Literal["match"]
    citizen_id: uuid.UUID
    score: float
    threshold: float
    checks: FaceChecks
    capture: str
    challenge: str
    # Who held the camera: the acting relative or staff member (`citizen:<id>`, `staff:<id>`) or the
    # kiosk (`kiosk:<id>`); who helped at the kiosk (`staff:<id>`, `relative:<id>`); the relative's
    # attested installation that signed the frames, when one did.
    captured_by: str = ""
    assisted_by: str | None = None
    installation: uuid.UUID | None = None


class ChallengeRequest(msgspec.Struct, forbid_unknown_fields=True):
    movement: Annotated[Movement, msgspec.Meta(
        description="Which movements the person can do: `turn` (left and right), `nod` (up and down), "
                    "or `any`. Lets someone who cannot turn their neck choose nodding, and the other way round.",
        examples=["any"])] = "any"


class ChallengeStep(msgspec.Struct):
    action: Action
    zh: str
    en: str


class LivenessChallenge(msgspec.Struct):
    challenge_id: str
    steps: list[ChallengeStep]
    expires_at: dt.datetime
    expires_in: int
    min_frames: int
    max_frames: int


class FaceProblem(msgspec.Struct, omit_defaults=True):
    """The RFC 9457 problem a refused face check answers with (`application/problem+json`)."""

    type: str
    title: str
    status: int
    detail: str
    reasons: list[FaceReason] = msgspec.field(default_factory=list)
    attempts_left: int | None = None
    alternatives: list[str] | None = None
    errors: list[dict[str, str]] | None = None


CaptureKind = Literal["android-key-attestation", "app-attest"]
_BASE64 = whole("[A-Za-z0-9+/_-]+={0,2}")
Base64 = Annotated[str, msgspec.Meta(pattern=_BASE64, min_length=4, max_length=16_384)]


class InstallationNonce(msgspec.Struct):
    """A one-time nonce for registering this phone's attested key: the attestation challenge (Android)
    or, hashed with SHA-256, the client data (Apple). Base64url, 32 bytes."""

    nonce: str
    expires_at: dt.datetime
    expires_in: int


class InstallationRegistration(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[CaptureKind, msgspec.Meta(description="`android-key-attestation` or `app-attest`")]
    nonce: Annotated[str, msgspec.Meta(pattern=TOKEN_43, description="from `POST /face/installations/nonces`")]
    certificate_chain: Annotated[list[Base64], msgspec.Meta(
        max_length=10, description="Android: the key's attestation certificate chain, leaf first, each DER in "
                                   "base64")] | None = None
    attestation_object: Annotated[Base64 | None, msgspec.Meta(
        description="Apple: the App Attest attestation object (CBOR), base64")] = None
    key_id: Annotated[Base64 | None, msgspec.Meta(description="Apple: the App Attest key id, base64")] = None


class InstallationView(msgspec.Struct):
    """A registered phone installation. The key itself is never shown."""

    id: uuid.UUID
    kind: CaptureKind
    app_id: str
    attested: dict[str, object]
    registered_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None


class InstallationRevocation(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=200, pattern=VISIBLE,
                                        examples=["phone reported lost"])]
