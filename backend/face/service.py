"""Face verification use cases: staff enrol a citizen's reference photo at a service window; the
citizen steps up to L2 with one photo, or to L3 with a liveness challenge; each can see or withdraw
the enrolment. Every attempt is rate-limited and audited with its scores and reasons, never images.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.config import Settings
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import (
    ChallengeExpired,
    ChallengeUsed,
    DomainError,
    FaceAttemptsExhausted,
    FaceMismatch,
    FaceNotEnrolled,
    FacePhotoTooLarge,
    FacePhotoUnusable,
    Forbidden,
    LivenessFailed,
    NotFound,
    OutsideDivision,
    RateLimited,
    ValidationFailed,
)
from backend.face import repository
from backend.face.engine import FaceEngine, PoolSlot
from backend.face.reasons import ALTERNATIVES, reasons, step, with_reasons
from backend.face.schemas import (
    FaceChecks,
    FaceEnrolment,
    FaceEnrolmentStatus,
    FaceQuality,
    FaceReason,
    FaceVerified,
    LivenessChallenge,
    Movement,
)
from backend.face.templates import FaceDataCipher
from backend.identity import divisions
from backend.identity.service import CITIZEN_READERS, IdentityService
from ml_models.image import ImageLimits, ImageRejected
from ml_models.liveness import (
    ACTIONS,
    Action,
    ContinuityThresholds,
    FrameGeometry,
    NoPresentationAttackDetector,
    PresentationAttackDetector,
    continuity,
    follows_challenge,
    one_still_picture,
    pose_labels,
)
from ml_models.models import SFACE
from ml_models.pipeline import FaceAnalysis, FacePipeline, PipelineConfig, cosine_similarity
from ml_models.quality import QualityThresholds

# The template is SFace's embedding of a crop aligned our way: both name the model.
TEMPLATE_MODEL = SFACE.name
ENROLLING_ROLES = frozenset({"receiving_officer", "handling_officer"})
SIZE_CODES = frozenset({"image-too-large", "image-too-many-pixels"})
MOVEMENTS: dict[str, tuple[Action, ...]] = {
    "any": ACTIONS, "turn": ("turn_left", "turn_right"), "nod": ("look_up", "look_down")}
# Challenge ids are `secrets.token_urlsafe(24)`; anything else was never issued.
CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{32}")
# Which wording of the consent the window officer read out; recorded with each enrolment.
CONSENT_WORDING = "face-verification-consent/1"


@dataclass(frozen=True, slots=True)
class FaceClient:
    """Where an attempt comes from: the network address, and the device id the client names.

    The device id is a hint only (any client can send any id); the per-person and per-session
    limits are the controls that count. Kiosks will prove who they are with their device credential.
    """

    address: str
    device: str | None = None


@dataclass(frozen=True, slots=True)
class FacePolicy:
    """The tunable rules of face verification, read from the settings."""

    threshold: float = 0.50
    burst_threshold: float = 0.40
    attack_threshold: float = 0.5
    challenge_seconds: int = 120
    challenge_steps: int = 4
    max_frames: int = 16
    attempts_per_citizen_hour: int = 10
    attempts_per_session_hour: int = 5
    attempts_per_device_hour: int = 30
    attempts_per_address_hour: int = 300
    retention_days: int = 0
    pipeline: PipelineConfig = PipelineConfig()
    frame_pipeline: PipelineConfig = PipelineConfig(image=ImageLimits(max_pixels=2_000_000))
    continuity: ContinuityThresholds = ContinuityThresholds()

    @classmethod
    def from_settings(cls, settings: Settings) -> FacePolicy:
        quality = QualityThresholds(min_face_pixels=settings.face_min_face_pixels)
        return cls(
            threshold=settings.face_threshold, burst_threshold=settings.face_burst_threshold,
            challenge_seconds=settings.face_challenge_seconds,
            attempts_per_citizen_hour=settings.face_attempts_per_citizen_hour,
            attempts_per_session_hour=settings.face_attempts_per_session_hour,
            attempts_per_device_hour=settings.face_attempts_per_device_hour,
            attempts_per_address_hour=settings.face_attempts_per_address_hour,
            retention_days=settings.face_dispute_retention_days,
            pipeline=PipelineConfig(image=ImageLimits(max_bytes=settings.face_max_image_bytes,
                                                      max_pixels=settings.face_max_image_pixels),
                                    quality=quality),
            frame_pipeline=PipelineConfig(image=ImageLimits(max_bytes=settings.face_max_image_bytes,
                                                            max_pixels=settings.face_max_frame_pixels),
                                          quality=quality),
        )

    @property
    def min_frames(self) -> int:
        """Frontal, then each movement followed by a return to frontal."""
        return 2 * self.challenge_steps + 1


def model_dir(settings: Settings) -> Path:
    return Path(settings.face_model_dir or Path(settings.data_dir) / "models")


def _builtins(items: list[FaceReason]) -> list[dict[str, Any]]:
    return msgspec.to_builtins(items)


def _quality(analysis: FaceAnalysis) -> dict[str, float]:
    quality = analysis.quality
    if quality is None:
        return {}
    return {"face_pixels": quality.face_pixels, "yaw": quality.pose.yaw, "pitch": quality.pose.pitch,
            "roll": quality.pose.roll, "sharpness": quality.sharpness, "brightness": quality.brightness,
            "detection_score": quality.detection_score}


def _unusable(codes: list[str], pointer: str | None = None, frame: int | None = None) -> DomainError:
    """The problem for photos that cannot be compared: 413 for size, 422 for everything else.

    `codes` with a frame index each (liveness) or one `pointer` (a single photo)."""
    listed = reasons(codes, frame)
    return _unusable_listed(listed, pointer)


def _unusable_listed(listed: list[FaceReason], pointer: str | None = None) -> DomainError:
    error_type = FacePhotoTooLarge if SIZE_CODES.intersection(r.code for r in listed) else FacePhotoUnusable
    if pointer is None:
        return error_type("; ".join(f"frame {r.frame}: {r.en}" for r in listed), reasons=_builtins(listed),
                          errors=[{"pointer": f"#/frames/{r.frame}", "detail": r.en} for r in listed])
    return error_type("; ".join(r.en for r in listed), reasons=_builtins(listed),
                      errors=[{"pointer": pointer, "detail": r.en} for r in listed])


def _not_enrolled() -> FaceNotEnrolled:
    return with_reasons(FaceNotEnrolled("no face reference is enrolled; enrol at a service window first"),
                        "not-enrolled")


def _check_sizes(photos: list[bytes], limits: ImageLimits, pointer: str) -> None:
    """Refuse oversized photos before they take room on the pool."""
    oversized = [i for i, photo in enumerate(photos) if len(photo) > limits.max_bytes]
    if oversized:
        frame = oversized[0] if len(photos) > 1 else None
        raise _unusable(["image-too-large"], None if frame is not None else pointer, frame)


@dataclass(slots=True)
class _Judged:
    """One photo's analysis (or the reason it is not an image) and the passive detector's score."""

    analysis: FaceAnalysis | None
    rejected: str | None = None
    attack_score: float | None = None


def _analyse_all(pipeline: FacePipeline, photos: list[bytes], config: PipelineConfig, *, burst: bool,
                 detector: PresentationAttackDetector) -> list[_Judged]:
    """Each photo analysed on a pool thread; the passive detector, if installed, on each aligned face."""
    judged = []
    for photo in photos:
        try:
            analysis = pipeline.analyse(photo, config, require_frontal=not burst, keep_scene=burst)
        except ImageRejected as exc:
            judged.append(_Judged(None, exc.code))
            continue
        score = None
        if detector.present and analysis.aligned is not None:
            score = detector.attack_score(analysis.aligned)
        judged.append(_Judged(analysis, attack_score=score))
    return judged


def _neighbours(index: int, frontal: list[int]) -> list[int]:
    """The frontal frames just before and just after `index` (itself excluded)."""
    before = [j for j in frontal if j < index]
    after = [j for j in frontal if j > index]
    return ([before[-1]] if before else []) + ([after[0]] if after else [])


class FaceService:
    def __init__(
        self, db: Database, ephemeral: Ephemeral, audit: AuditLog, identity: IdentityService,
        engine: FaceEngine, cipher: FaceDataCipher, policy: FacePolicy,
        attack_detector: PresentationAttackDetector | None = None,
    ) -> None:
        self.db, self.ephemeral, self.audit, self.identity = db, ephemeral, audit, identity
        self.engine, self.cipher, self.policy = engine, cipher, policy
        self.attack_detector = attack_detector or NoPresentationAttackDetector()

    @classmethod
    def from_settings(cls, settings: Settings, db: Database, ephemeral: Ephemeral, audit: AuditLog,
                      identity: IdentityService) -> FaceService:
        engine = FaceEngine(model_dir(settings), workers=settings.face_workers,
                            onnx_threads=settings.face_onnx_threads, queue=settings.face_queue)
        return cls(db, ephemeral, audit, identity, engine, FaceDataCipher(settings.secret_bytes("pii_key")),
                   FacePolicy.from_settings(settings))

    async def start(self) -> None:
        """Load the models in this process now rather than on the first request."""
        await self.engine.start()

    def close(self) -> None:
        self.engine.close()

    # -- shared steps ------------------------------------------------------------------------------

    async def _analyse(self, slot: PoolSlot, photo: bytes, pointer: str) -> tuple[FaceAnalysis, float | None]:
        """Analyse one photo in a reserved pool slot; an unreadable or oversized one raises its problem."""
        _check_sizes([photo], self.policy.pipeline.image, pointer)
        (judged,) = await slot.run(lambda pipeline: _analyse_all(
            pipeline, [photo], self.policy.pipeline, burst=False, detector=self.attack_detector))
        if judged.analysis is None:
            raise _unusable([judged.rejected or "not-an-image"], pointer)
        return judged.analysis, judged.attack_score

    async def _count_attempt(self, actor: Actor, client: FaceClient) -> None:
        """One more face check; refuse past the hourly caps. Per person and per session are the
        controls; per address is set high (many people share one address behind a NAT) and per
        device only counts when the client names one."""
        limits = [("face-session", actor.session_id or "", self.policy.attempts_per_session_hour,
                   "face checks in this session"),
                  ("face-citizen", actor.id or "", self.policy.attempts_per_citizen_hour,
                   "face checks for this person"),
                  ("face-address", client.address, self.policy.attempts_per_address_hour,
                   "face checks from this network address")]
        if client.device is not None:
            limits.append(("face-device", client.device, self.policy.attempts_per_device_hour,
                           "face checks from this device"))
        try:
            for name, subject, limit, what in limits:
                await self.ephemeral.limit(name, subject, limit=limit, window_seconds=3600, what=what)
        except RateLimited as exc:
            raise with_reasons(FaceAttemptsExhausted(exc.detail, exc.retry_after, alternatives=ALTERNATIVES),
                               "attempts-exhausted") from None

    async def _attempts_left(self, actor: Actor, citizen_id: str) -> int:
        left = await self.ephemeral.remaining("face-citizen", citizen_id, limit=self.policy.attempts_per_citizen_hour)
        if actor.kind == "citizen" and actor.session_id:
            left = min(left, await self.ephemeral.remaining("face-session", actor.session_id,
                                                            limit=self.policy.attempts_per_session_hour))
        return left

    async def _retain(self, conn: asyncpg.Connection, citizen_id: uuid.UUID, kind: str, photos: list[bytes],
                      request_id: str | None) -> None:
        """Keep the photos of this attempt, encrypted, only if a dispute retention is configured."""
        if self.policy.retention_days <= 0:
            return
        sealed = [self.cipher.seal(photo, purpose="face.retained-photo", citizen_id=str(citizen_id))
                  for photo in photos]
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=self.policy.retention_days)
        await repository.retain_photos(conn, citizen_id, request_id, kind, sealed, until)

    def _reference(self, row: asyncpg.Record | None) -> Any:
        if row is None or row["template_enc"] is None:
            return None
        return self.cipher.open_template(row["template_enc"], citizen_id=str(row["id"]), model=row["model"])

    async def _own_row(self, conn: asyncpg.Connection, actor: Actor) -> asyncpg.Record:
        """The signed-in citizen's row with enrolment."""
        row = await repository.citizen_with_enrolment(conn, uuid.UUID(actor.id))
        if row is None:
            raise NotFound("citizen not found")
        return row

    async def _citizen_in_scope(self, actor: Actor, citizen_id: uuid.UUID, refused: str) -> asyncpg.Record:
        """The citizen's row with enrolment, if inside the staff member's division (refusals audited)."""
        async with self.db.transaction() as conn:
            row = await repository.citizen_with_enrolment(conn, citizen_id)
            if row is not None and not divisions.within(actor.division or "", row["home_division"]):
                await self.audit.record(conn, actor, refused, "citizen", str(citizen_id), division=actor.division)
        if row is None:
            raise NotFound("no such citizen")
        if not divisions.within(actor.division or "", row["home_division"]):
            raise OutsideDivision("this citizen's home division is outside your division")
        return row

    async def _finish(
        self, actor: Actor, row: asyncpg.Record, kind: str, photos: list[bytes], detail: dict[str, Any],
        failure: DomainError | None, level: str,
    ) -> FaceVerified:
        """Record the attempt; on success raise the session's assurance; then answer or refuse."""
        citizen_id = row["id"]
        method = "face-photo" if kind == "photo" else "face-liveness"
        if failure is not None:
            detail["reasons"] = [r["code"] for r in failure.extensions.get("reasons", [])]
        async with self.db.transaction() as conn:
            await self._retain(conn, citizen_id, kind, photos, actor.request_id)
            if failure is None:
                await repository.mark_verified(conn, citizen_id, level)
                tokens = await self.identity.elevate(conn, actor, level, method)
                await self.audit.record(conn, actor, "face.verified", "citizen", str(citizen_id),
                                        division=row["home_division"], detail=detail | {"decision": "match"})
            else:
                await self.audit.record(conn, actor, "face.check_failed", "citizen", str(citizen_id),
                                        division=row["home_division"], detail=detail | {"decision": failure.slug})
        if failure is not None:
            failure.extensions["attempts_left"] = await self._attempts_left(actor, str(citizen_id))
            if failure.extensions["attempts_left"] == 0:
                failure.extensions["alternatives"] = ALTERNATIVES
            raise failure
        checks = FaceChecks(match=True, liveness="active-challenge" if kind == "liveness" else "none",
                            passive_anti_spoofing=self.attack_detector.name)
        # A photo check on a session already at L3 leaves it at L3: report what the tokens carry.
        return FaceVerified(decision="match", assurance_level=tokens.assurance_level, checks=checks, tokens=tokens)

    def _base_detail(self, kind: str, client: FaceClient) -> dict[str, Any]:
        return {"check": kind, "model": TEMPLATE_MODEL, "threshold": self.policy.threshold,
                "device": client.device, "address": client.address,
                "passive_anti_spoofing": self.attack_detector.name}

    def _attack_refusal(self, scores: list[float | None], detail: dict[str, Any]) -> bool:
        """Record the passive detector's scores; True when one of them says attack."""
        if not self.attack_detector.present:
            return False
        judged = [round(score, 4) for score in scores if score is not None]
        detail["attack_scores"] = judged
        return any(score >= self.policy.attack_threshold for score in judged)

    # -- enrolment ---------------------------------------------------------------------------------

    async def enrol(self, actor: Actor, citizen_id: uuid.UUID, photo: bytes, *, consent: bool,
                    source: str = "service_window") -> FaceEnrolment:
        """Staff at a service window enrol (or replace) a citizen's reference from a photo taken there."""
        if actor.role not in ENROLLING_ROLES:
            raise Forbidden("only receiving or handling officers enrol face references")
        if not consent:
            # Face data needs the person's separate consent, and face is never the only route.
            raise ValidationFailed.field("consent", "the citizen's separate consent to face verification is required")
        consented_at = dt.datetime.now(dt.UTC)
        row = await self._citizen_in_scope(actor, citizen_id, "face.enrol_refused")
        analysis: FaceAnalysis | None = None
        failure: DomainError | None = None
        try:
            async with self.engine.reserve() as slot:
                analysis, _ = await self._analyse(slot, photo, "#/photo")
            if analysis.problems:
                failure = _unusable(analysis.problems, "#/photo")
        except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
            failure = exc
        quality = _quality(analysis) if analysis else {}
        replaced = row["template_enc"] is not None
        async with self.db.transaction() as conn:
            if failure is not None:
                await self.audit.record(conn, actor, "face.enrolment_rejected", "citizen", str(citizen_id),
                                        division=row["home_division"],
                                        detail={"reasons": [r["code"] for r in failure.extensions["reasons"]],
                                                "quality": quality})
            else:
                assert analysis is not None and analysis.embedding is not None
                saved = await repository.save_enrolment(
                    conn, citizen_id, model=TEMPLATE_MODEL, source=source, quality=quality,
                    template_enc=self.cipher.seal_template(analysis.embedding, citizen_id=str(citizen_id),
                                                           model=TEMPLATE_MODEL),
                    staff_id=uuid.UUID(actor.id), division=actor.division or "")
                consent_record = {"given": True, "at": consented_at.isoformat(), "wording": CONSENT_WORDING}
                await self.audit.record(conn, actor, "face.enrolled", "citizen", str(citizen_id),
                                        division=row["home_division"],
                                        detail={"model": TEMPLATE_MODEL, "source": source, "quality": quality,
                                                "replaced": replaced, "consent": consent_record})
        if failure is not None:
            raise failure
        return FaceEnrolment(citizen_id=citizen_id, enrolled_at=saved["enrolled_at"], source=source,  # type: ignore[arg-type]
                             model=TEMPLATE_MODEL, quality=FaceQuality(**quality), replaced=replaced)

    async def _status(self, actor: Actor, row: asyncpg.Record) -> FaceEnrolmentStatus:
        if row["template_enc"] is None:
            return FaceEnrolmentStatus(enrolled=False, alternatives=ALTERNATIVES)
        left = await self._attempts_left(actor, str(row["id"]))
        return FaceEnrolmentStatus(
            enrolled=True, enrolled_at=row["enrolled_at"], source=row["source"], model=row["model"],
            last_verified_at=row["last_verified_at"], last_verified_level=row["last_verified_level"],
            attempts_left=left, alternatives=ALTERNATIVES if left == 0 else [])

    async def my_enrolment(self, actor: Actor) -> FaceEnrolmentStatus:
        async with self.db.transaction() as conn:
            row = await self._own_row(conn, actor)
            await self.audit.record(conn, actor, "face.enrolment_read", "citizen", actor.id,
                                    division=row["home_division"])
        return await self._status(actor, row)

    async def staff_enrolment(self, actor: Actor, citizen_id: uuid.UUID) -> FaceEnrolmentStatus:
        if actor.role not in CITIZEN_READERS:
            raise Forbidden("your role may not read citizens' records")
        row = await self._citizen_in_scope(actor, citizen_id, "face.enrolment_read_refused")
        async with self.db.transaction() as conn:
            await self.audit.record(conn, actor, "face.enrolment_read", "citizen", str(citizen_id),
                                    division=row["home_division"])
        return await self._status(actor, row)

    async def withdraw(self, actor: Actor) -> None:
        """The citizen withdraws consent: the reference and any retained photos are deleted."""
        citizen_id = uuid.UUID(actor.id)
        async with self.db.transaction() as conn:
            row = await self._own_row(conn, actor)
            if row["template_enc"] is None:
                raise _not_enrolled()
            await repository.delete_enrolment(conn, citizen_id)
            deleted_photos = await repository.delete_retained_photos(conn, citizen_id)
            await self.audit.record(conn, actor, "face.enrolment_withdrawn", "citizen", actor.id,
                                    division=row["home_division"], detail={"retained_photos_deleted": deleted_photos})

    # -- single-photo verification (L2) -----------------------------------------------------------

    async def verify(self, actor: Actor, photo: bytes, client: FaceClient) -> FaceVerified:
        """Compare one photo with the citizen's reference; a match raises the session to L2.

        Room on the pool is reserved first: a busy pool (503) costs the person no attempt."""
        detail = self._base_detail("photo", client)
        failure: DomainError | None = None
        async with self.engine.reserve() as slot:
            await self._count_attempt(actor, client)
            async with self.db.connection() as conn:
                row = await self._own_row(conn, actor)
            reference = self._reference(row)
            if reference is None:
                failure = _not_enrolled()
            else:
                try:
                    analysis, attack_score = await self._analyse(slot, photo, "#/photo")
                except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
                    failure = exc
                else:
                    detail |= {"quality": _quality(analysis), "timings_ms": analysis.timings_ms}
                    if analysis.problems:
                        failure = _unusable(analysis.problems, "#/photo")
                    elif self._attack_refusal([attack_score], detail):
                        failure = with_reasons(LivenessFailed("the photo looks like a presentation attack"),
                                               "presentation-attack")
                    else:
                        score = cosine_similarity(analysis.embedding, reference)  # type: ignore[arg-type]
                        detail["score"] = round(score, 4)
                        if score < self.policy.threshold:
                            failure = with_reasons(FaceMismatch("the face does not match the enrolled reference"),
                                                   "mismatch")
        return await self._finish(actor, row, "photo", [photo], detail, failure, "L2")

    # -- liveness challenge (L3) ------------------------------------------------------------------

    async def issue_challenge(self, actor: Actor, movement: Movement, client: FaceClient) -> LivenessChallenge:
        """A random sequence of head movements, single-use, valid for a short time.

        Each challenge counts as an attempt (asking for challenges until one fits a prepared burst
        costs attempts), and a session has one open challenge: a new one replaces the last."""
        await self._count_attempt(actor, client)
        async with self.db.connection() as conn:
            row = await self._own_row(conn, actor)
        if row["template_enc"] is None:
            raise _not_enrolled()
        choices = MOVEMENTS[movement]
        chooser = secrets.SystemRandom()
        # Independent choices: a movement may repeat, since the person returns to frontal in between.
        actions: list[Action] = [chooser.choice(choices) for _ in range(self.policy.challenge_steps)]
        challenge_id = secrets.token_urlsafe(24)
        seconds = self.policy.challenge_seconds
        state = {"citizen": actor.id, "actions": actions}
        session = actor.session_id or ""
        replaced = await self.ephemeral.client.set(self.ephemeral.key("face-challenge-open", session), challenge_id,
                                                   ex=seconds, get=True)
        if replaced is not None:
            await self.ephemeral.client.delete(self._challenge_key(session, replaced.decode()))
        await self.ephemeral.client.set(self._challenge_key(session, challenge_id), json.dumps(state), ex=seconds)
        async with self.db.transaction() as conn:
            await self.audit.record(conn, actor, "face.challenge_issued", "citizen", actor.id,
                                    division=row["home_division"],
                                    detail={"challenge": challenge_id, "actions": actions, "movement": movement,
                                            "replaced": replaced is not None})
        return LivenessChallenge(
            challenge_id=challenge_id, steps=[step(a) for a in actions],
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds), expires_in=seconds,
            min_frames=self.policy.min_frames, max_frames=self.policy.max_frames)

    def _challenge_key(self, session: str, challenge_id: str) -> str:
        return self.ephemeral.key("face-challenge", session, challenge_id)

    async def _take_challenge(self, actor: Actor, challenge_id: str) -> list[Action]:
        """The challenge's actions, consumed: a second answer, a late one, one from another session,
        or one to a challenge since replaced, is refused."""
        session = actor.session_id or ""
        state = await self.ephemeral.take_once("face-challenge", session, challenge_id)
        if state is None:
            if await self.ephemeral.client.exists(self.ephemeral.key("face-challenge-used", session, challenge_id)):
                raise with_reasons(ChallengeUsed("this challenge was already answered; request a new one"),
                                   "challenge-used")
            raise with_reasons(ChallengeExpired("this challenge has expired, was replaced by a newer one, or was "
                                                "not issued to this session; request a new one"),
                               "challenge-expired")
        await self.ephemeral.client.set(self.ephemeral.key("face-challenge-used", session, challenge_id), 1,
                                        ex=24 * 3600)
        issued = json.loads(state)
        if issued["citizen"] != actor.id:
            raise with_reasons(ChallengeExpired("this challenge was issued to someone else; request a new one"),
                               "challenge-expired")
        return issued["actions"]

    async def answer_challenge(self, actor: Actor, challenge_id: str, frames: list[bytes],
                               client: FaceClient) -> FaceVerified:
        """Check a burst of frames against the challenge and the reference; success raises the session to L3.

        The attempt was counted when the challenge was issued. Room on the pool is reserved before the
        challenge is used up, so a busy pool (503) leaves the challenge open for a retry."""
        if not CHALLENGE_ID.fullmatch(challenge_id):
            raise with_reasons(ChallengeExpired("no challenge has this id; request a new one"), "challenge-expired")
        if not self.policy.min_frames <= len(frames) <= self.policy.max_frames:
            error = ValidationFailed.field(
                "frames", f"send between {self.policy.min_frames} and {self.policy.max_frames} frames")
            raise with_reasons(error, "frame-count")
        detail = self._base_detail("liveness", client) | {"challenge": challenge_id, "frames": len(frames)}
        failure: DomainError | None = None
        async with self.engine.reserve(len(frames)) as slot:
            async with self.db.connection() as conn:
                row = await self._own_row(conn, actor)
            try:
                actions = await self._take_challenge(actor, challenge_id)
            except (ChallengeExpired, ChallengeUsed) as exc:
                failure = exc
            else:
                detail["actions"] = actions
                failure = await self._judge_burst(slot, row, actions, frames, detail)
        return await self._finish(actor, row, "liveness", frames, detail, failure, "L3")

    async def _judge_burst(self, slot: PoolSlot, row: asyncpg.Record, actions: list[Action], frames: list[bytes],
                           detail: dict[str, Any]) -> DomainError | None:
        """The refusal for this burst, or None when it passes; fills `detail` with what was measured."""
        reference = self._reference(row)
        if reference is None:
            return _not_enrolled()
        try:
            _check_sizes(frames, self.policy.frame_pipeline.image, "#/frames")
        except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
            return exc
        judged = await slot.run(lambda pipeline: _analyse_all(
            pipeline, frames, self.policy.frame_pipeline, burst=True, detector=self.attack_detector))
        listed: list[FaceReason] = []
        for index, result in enumerate(judged):
            codes = [result.rejected] if result.analysis is None else result.analysis.problems
            listed.extend(reasons(codes, index))  # type: ignore[arg-type]
        if listed:
            return _unusable_listed(listed)
        analyses = [j.analysis for j in judged]
        poses = [a.quality.pose for a in analyses]  # type: ignore[union-attr]
        labels = pose_labels(poses)
        still = one_still_picture([a.face.landmarks for a in analyses],  # type: ignore[union-attr]
                                  [hashlib.sha256(frame).digest() for frame in frames])
        flow = continuity([FrameGeometry(a.image_size, a.face.box, a.scene)  # type: ignore[union-attr, arg-type]
                           for a in analyses], self.policy.continuity)
        # Every frontal frame (the first, and each return) must be the enrolled person; every frame
        # must be the same person as the frontal frames around it.
        frontal = [i for i, label in enumerate(labels) if label == "frontal"] or [0]
        scores = [round(cosine_similarity(analyses[i].embedding, reference), 4) for i in frontal]  # type: ignore[union-attr, arg-type]
        consistency = [round(min([cosine_similarity(a.embedding, analyses[j].embedding)  # type: ignore[union-attr, arg-type]
                                  for j in _neighbours(i, frontal)], default=1.0), 4)
                       for i, a in enumerate(analyses)]
        detail |= {"score": min(scores), "frontal_scores": scores, "labels": labels, "consistency": consistency,
                   "still_picture": still, "continuity": {"same_size": flow.same_size, "shift": flow.shift,
                                                          "scale": flow.scale, "background": flow.background},
                   "poses": [[p.yaw, p.pitch] for p in poses]}
        codes = []
        if still:
            codes.append("frames-identical")
        if not follows_challenge(labels, actions):
            codes.append("pose-wrong")
        if not flow.within(self.policy.continuity):
            codes.append("frames-discontinuous")
        if min(consistency) < self.policy.burst_threshold:
            codes.append("person-changed")
        if self._attack_refusal([j.attack_score for j in judged], detail):
            codes.append("presentation-attack")
        if codes:
            listed = reasons(codes)
            return LivenessFailed("; ".join(r.en for r in listed), reasons=_builtins(listed))
        if min(scores) < self.policy.threshold:
            return with_reasons(FaceMismatch("the face does not match the enrolled reference"), "mismatch")
        return None

    # -- retention ---------------------------------------------------------------------------------

    async def purge_retained_photos(self) -> int:
        """Delete retained photos whose retention has ended; return how many."""
        async with self.db.transaction() as conn:
            count = await repository.purge_retained_photos(conn)
            if count:
                await self.audit.record(conn, Actor.system(), "face.retained_photos_purged", "face_retained_photo",
                                        None, detail={"count": count})
        return count
