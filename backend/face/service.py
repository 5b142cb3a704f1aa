"""Face verification use cases: staff enrol a citizen's reference photo at a service window; the
citizen steps up to L2 with one photo, or to L3 with a liveness challenge; each can see or withdraw
the enrolment. Every attempt is rate-limited and audited with its scores and reasons, never images.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
from backend.face.engine import FaceEngine
from backend.face.reasons import ALTERNATIVES, reason, reasons, step
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
    NoPresentationAttackDetector,
    PresentationAttackDetector,
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


@dataclass(frozen=True, slots=True)
class FacePolicy:
    """The tunable rules of face verification, read from the settings."""

    threshold: float = 0.50
    burst_threshold: float = 0.40
    challenge_seconds: int = 120
    challenge_steps: int = 2
    max_frames: int = 12
    attempts_per_citizen_hour: int = 10
    attempts_per_device_hour: int = 30
    challenges_per_citizen_hour: int = 30
    retention_days: int = 0
    pipeline: PipelineConfig = PipelineConfig()

    @classmethod
    def from_settings(cls, settings: Settings) -> FacePolicy:
        return cls(
            threshold=settings.face_threshold, burst_threshold=settings.face_burst_threshold,
            challenge_seconds=settings.face_challenge_seconds,
            attempts_per_citizen_hour=settings.face_attempts_per_citizen_hour,
            attempts_per_device_hour=settings.face_attempts_per_device_hour,
            retention_days=settings.face_dispute_retention_days,
            pipeline=PipelineConfig(
                image=ImageLimits(max_bytes=settings.face_max_image_bytes,
                                  max_pixels=settings.face_max_image_pixels),
                quality=QualityThresholds(min_face_pixels=settings.face_min_face_pixels)),
        )

    @property
    def min_frames(self) -> int:
        return self.challenge_steps + 1


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


def _unusable(codes: list[str], pointer: str, frame: int | None = None) -> DomainError:
    """The problem for a photo that cannot be compared: 413 for size, 422 for everything else."""
    error_type = FacePhotoTooLarge if SIZE_CODES.intersection(codes) else FacePhotoUnusable
    listed = reasons(codes, frame)
    return error_type("; ".join(r.en for r in listed), reasons=_builtins(listed),
                      errors=[{"pointer": pointer, "detail": r.en} for r in listed])


def _analyse_burst(pipeline: FacePipeline, frames: list[bytes], config: PipelineConfig) -> list[FaceAnalysis | str]:
    """Each frame's analysis, or the reason code of a frame that is not a usable image."""
    results: list[FaceAnalysis | str] = []
    for frame in frames:
        try:
            results.append(pipeline.analyse(frame, config, require_frontal=False))
        except ImageRejected as exc:
            results.append(exc.code)
    return results


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

    async def _analyse(self, photo: bytes, pointer: str) -> FaceAnalysis:
        """Analyse one photo on the pool; an unreadable or oversized one raises its problem."""
        limits = self.policy.pipeline.image
        if len(photo) > limits.max_bytes:  # refused before it takes a pool slot
            raise _unusable(["image-too-large"], pointer)
        try:
            return await self.engine.run(lambda pipeline: pipeline.analyse(photo, self.policy.pipeline))
        except ImageRejected as exc:
            raise _unusable([exc.code], pointer) from None

    async def _count_attempt(self, citizen_id: str, device: str) -> None:
        """One more face check for this person and this device; refuse past the hourly caps."""
        try:
            await self.ephemeral.limit("face-device", device, limit=self.policy.attempts_per_device_hour,
                                       window_seconds=3600, what="face checks from this device")
            await self.ephemeral.limit("face-citizen", citizen_id, limit=self.policy.attempts_per_citizen_hour,
                                       window_seconds=3600, what="face checks for this person")
        except RateLimited as exc:
            raise FaceAttemptsExhausted(exc.detail, exc.retry_after, reasons=_builtins([reason("attempts-exhausted")]),
                                        alternatives=ALTERNATIVES) from None

    async def _attempts_left(self, citizen_id: str) -> int:
        used = await self.ephemeral.client.get(self.ephemeral.key("rl", "face-citizen", citizen_id))
        return max(0, self.policy.attempts_per_citizen_hour - int(used or 0))

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
            failure.extensions["attempts_left"] = await self._attempts_left(str(citizen_id))
            if failure.extensions["attempts_left"] == 0:
                failure.extensions["alternatives"] = ALTERNATIVES
            raise failure
        checks = FaceChecks(match=True, liveness="active-challenge" if kind == "liveness" else "none",
                            passive_anti_spoofing=self.attack_detector.name)
        return FaceVerified(decision="match", assurance_level=level, checks=checks, tokens=tokens)  # type: ignore[arg-type]

    def _base_detail(self, kind: str, device: str) -> dict[str, Any]:
        return {"check": kind, "model": TEMPLATE_MODEL, "threshold": self.policy.threshold, "device": device,
                "passive_anti_spoofing": self.attack_detector.name}

    # -- enrolment ---------------------------------------------------------------------------------

    async def enrol(self, actor: Actor, citizen_id: uuid.UUID, photo: bytes, *, consent: bool,
                    source: str = "service_window") -> FaceEnrolment:
        """Staff at a service window enrol (or replace) a citizen's reference from a photo taken there."""
        if actor.role not in ENROLLING_ROLES:
            raise Forbidden("only receiving or handling officers enrol face references")
        if not consent:
            # Face data needs the person's separate consent, and face is never the only route.
            raise ValidationFailed.field("consent", "the citizen's separate consent to face verification is required")
        row = await self._citizen_in_scope(actor, citizen_id, "face.enrol_refused")
        try:
            analysis = await self._analyse(photo, "#/photo")
            failure = _unusable(analysis.problems, "#/photo") if analysis.problems else None
        except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
            analysis, failure = None, exc
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
                await self.audit.record(conn, actor, "face.enrolled", "citizen", str(citizen_id),
                                        division=row["home_division"],
                                        detail={"model": TEMPLATE_MODEL, "source": source, "quality": quality,
                                                "replaced": replaced})
        if failure is not None:
            raise failure
        return FaceEnrolment(citizen_id=citizen_id, enrolled_at=saved["enrolled_at"], source=source,  # type: ignore[arg-type]
                             model=TEMPLATE_MODEL, quality=FaceQuality(**quality), replaced=replaced)

    async def _status(self, row: asyncpg.Record) -> FaceEnrolmentStatus:
        if row["template_enc"] is None:
            return FaceEnrolmentStatus(enrolled=False, alternatives=ALTERNATIVES)
        left = await self._attempts_left(str(row["id"]))
        return FaceEnrolmentStatus(
            enrolled=True, enrolled_at=row["enrolled_at"], source=row["source"], model=row["model"],
            last_verified_at=row["last_verified_at"], last_verified_level=row["last_verified_level"],
            attempts_left=left, alternatives=ALTERNATIVES if left == 0 else [])

    async def my_enrolment(self, actor: Actor) -> FaceEnrolmentStatus:
        async with self.db.transaction() as conn:
            row = await repository.citizen_with_enrolment(conn, uuid.UUID(actor.id))
            if row is None:
                raise NotFound("citizen not found")
            await self.audit.record(conn, actor, "face.enrolment_read", "citizen", actor.id,
                                    division=row["home_division"])
        return await self._status(row)

    async def staff_enrolment(self, actor: Actor, citizen_id: uuid.UUID) -> FaceEnrolmentStatus:
        if actor.role not in CITIZEN_READERS:
            raise Forbidden("your role may not read citizens' records")
        row = await self._citizen_in_scope(actor, citizen_id, "face.enrolment_read_refused")
        async with self.db.transaction() as conn:
            await self.audit.record(conn, actor, "face.enrolment_read", "citizen", str(citizen_id),
                                    division=row["home_division"])
        return await self._status(row)

    async def withdraw(self, actor: Actor) -> None:
        """The citizen withdraws consent: the reference and any retained photos are deleted."""
        citizen_id = uuid.UUID(actor.id)
        async with self.db.transaction() as conn:
            row = await repository.citizen_with_enrolment(conn, citizen_id)
            if row is None or row["template_enc"] is None:
                raise FaceNotEnrolled("there is no face reference to withdraw", reasons=_builtins([reason("not-enrolled")]))
            await repository.delete_enrolment(conn, citizen_id)
            deleted_photos = await repository.delete_retained_photos(conn, citizen_id)
            await self.audit.record(conn, actor, "face.enrolment_withdrawn", "citizen", actor.id,
                                    division=row["home_division"], detail={"retained_photos_deleted": deleted_photos})

    # -- single-photo verification (L2) -----------------------------------------------------------

    async def verify(self, actor: Actor, photo: bytes, device: str) -> FaceVerified:
        """Compare one photo with the citizen's reference; a match raises the session to L2."""
        await self._count_attempt(actor.id or "", device)
        async with self.db.connection() as conn:
            row = await repository.citizen_with_enrolment(conn, uuid.UUID(actor.id))
        if row is None:
            raise NotFound("citizen not found")
        detail = self._base_detail("photo", device)
        reference = self._reference(row)
        failure: DomainError | None = None
        if reference is None:
            failure = FaceNotEnrolled("no face reference is enrolled; enrol at a service window first",
                                      reasons=_builtins([reason("not-enrolled")]))
        else:
            try:
                analysis = await self._analyse(photo, "#/photo")
            except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
                failure = exc
            else:
                detail |= {"quality": _quality(analysis), "timings_ms": analysis.timings_ms}
                if analysis.problems:
                    failure = _unusable(analysis.problems, "#/photo")
                else:
                    score = cosine_similarity(analysis.embedding, reference)  # type: ignore[arg-type]
                    detail["score"] = round(score, 4)
                    if score < self.policy.threshold:
                        failure = FaceMismatch("the face does not match the enrolled reference",
                                               reasons=_builtins([reason("mismatch")]))
        if failure is not None:
            detail["reasons"] = [r["code"] for r in failure.extensions.get("reasons", [])]
        return await self._finish(actor, row, "photo", [photo], detail, failure, "L2")

    # -- liveness challenge (L3) ------------------------------------------------------------------

    def _challenge_key(self, challenge_id: str) -> str:
        return self.ephemeral.key("face-challenge", challenge_id)

    def _used_key(self, challenge_id: str) -> str:
        return self.ephemeral.key("face-challenge-used", challenge_id)

    async def issue_challenge(self, actor: Actor, movement: Movement) -> LivenessChallenge:
        """A random sequence of head movements, single-use, valid for a short time."""
        await self.ephemeral.limit("face-challenge", actor.id or "", limit=self.policy.challenges_per_citizen_hour,
                                   window_seconds=3600, what="liveness challenges")
        async with self.db.connection() as conn:
            row = await repository.citizen_with_enrolment(conn, uuid.UUID(actor.id))
        if row is None:
            raise NotFound("citizen not found")
        if row["template_enc"] is None:
            raise FaceNotEnrolled("no face reference is enrolled; enrol at a service window first",
                                  reasons=_builtins([reason("not-enrolled")]))
        choices = MOVEMENTS[movement]
        chooser = secrets.SystemRandom()
        actions: list[Action] = []
        while len(actions) < self.policy.challenge_steps:
            action = chooser.choice(choices)
            if not actions or actions[-1] != action:
                actions.append(action)
        challenge_id = secrets.token_urlsafe(24)
        seconds = self.policy.challenge_seconds
        state = {"citizen": actor.id, "session": actor.session_id, "actions": actions}
        await self.ephemeral.client.set(self._challenge_key(challenge_id), json.dumps(state), ex=seconds)
        async with self.db.transaction() as conn:
            await self.audit.record(conn, actor, "face.challenge_issued", "citizen", actor.id,
                                    division=row["home_division"],
                                    detail={"challenge": challenge_id, "actions": actions, "movement": movement})
        return LivenessChallenge(
            challenge_id=challenge_id, steps=[step(a) for a in actions],
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds), expires_in=seconds,
            min_frames=self.policy.min_frames, max_frames=self.policy.max_frames)

    async def _take_challenge(self, actor: Actor, challenge_id: str) -> list[Action]:
        """The challenge's actions, consumed: a second answer, or a late one, is refused."""
        state = await self.ephemeral.client.getdel(self._challenge_key(challenge_id))
        if state is None:
            if await self.ephemeral.client.exists(self._used_key(challenge_id)):
                raise ChallengeUsed("this challenge was already answered; request a new one",
                                    reasons=_builtins([reason("challenge-used")]))
            raise ChallengeExpired("this challenge has expired or does not exist; request a new one",
                                   reasons=_builtins([reason("challenge-expired")]))
        await self.ephemeral.client.set(self._used_key(challenge_id), 1, ex=24 * 3600)
        issued = json.loads(state)
        if issued["citizen"] != actor.id or issued["session"] != actor.session_id:
            raise ChallengeExpired("this challenge was issued to another session; request a new one",
                                   reasons=_builtins([reason("challenge-expired")]))
        return issued["actions"]

    async def answer_challenge(self, actor: Actor, challenge_id: str, frames: list[bytes], device: str) -> FaceVerified:
        """Check a burst of frames against the challenge and the reference; success raises the session to L3."""
        if not self.policy.min_frames <= len(frames) <= self.policy.max_frames:
            raise ValidationFailed.field(
                "frames", f"send between {self.policy.min_frames} and {self.policy.max_frames} frames")
        await self._count_attempt(actor.id or "", device)
        async with self.db.connection() as conn:
            row = await repository.citizen_with_enrolment(conn, uuid.UUID(actor.id))
        if row is None:
            raise NotFound("citizen not found")
        detail = self._base_detail("liveness", device) | {"challenge": challenge_id, "frames": len(frames)}
        failure: DomainError | None = None
        try:
            actions = await self._take_challenge(actor, challenge_id)
        except (ChallengeExpired, ChallengeUsed) as exc:
            failure = exc
        else:
            detail["actions"] = actions
            failure = await self._judge_burst(row, actions, frames, detail)
        if failure is not None:
            detail["reasons"] = [r["code"] for r in failure.extensions.get("reasons", [])]
        return await self._finish(actor, row, "liveness", frames, detail, failure, "L3")

    async def _judge_burst(self, row: asyncpg.Record, actions: list[Action], frames: list[bytes],
                           detail: dict[str, Any]) -> DomainError | None:
        """The refusal for this burst, or None when it passes; fills `detail` with what was measured."""
        reference = self._reference(row)
        if reference is None:
            return FaceNotEnrolled("no face reference is enrolled", reasons=_builtins([reason("not-enrolled")]))
        limits = self.policy.pipeline.image
        oversized = [i for i, frame in enumerate(frames) if len(frame) > limits.max_bytes]
        if oversized:
            return _unusable(["image-too-large"], f"#/frames/{oversized[0]}", oversized[0])
        results = await self.engine.run(lambda pipeline: _analyse_burst(pipeline, frames, self.policy.pipeline))
        listed: list[FaceReason] = []
        for index, result in enumerate(results):
            codes = [result] if isinstance(result, str) else result.problems
            listed.extend(reasons(codes, index))
        if listed:
            error_type = FacePhotoTooLarge if SIZE_CODES.intersection(r.code for r in listed) else FacePhotoUnusable
            return error_type("; ".join(f"frame {r.frame}: {r.en}" for r in listed), reasons=_builtins(listed),
                              errors=[{"pointer": f"#/frames/{r.frame}", "detail": r.en} for r in listed])
        analyses: list[FaceAnalysis] = results  # type: ignore[assignment]
        poses = [a.quality.pose for a in analyses]  # type: ignore[union-attr]
        labels = pose_labels(poses)
        still = one_still_picture([a.face.landmarks for a in analyses],  # type: ignore[union-attr]
                                  [hashlib.sha256(frame).digest() for frame in frames])
        first = analyses[0].embedding
        consistency = [round(cosine_similarity(a.embedding, first), 4) for a in analyses]  # type: ignore[arg-type]
        score = cosine_similarity(first, reference)  # type: ignore[arg-type]
        detail |= {"score": round(score, 4), "labels": labels, "consistency": consistency, "still_picture": still,
                   "poses": [[p.yaw, p.pitch] for p in poses]}
        codes = []
        if still:
            codes.append("frames-identical")
        if not follows_challenge(labels, actions):
            codes.append("pose-wrong")
        if min(consistency) < self.policy.burst_threshold:
            codes.append("person-changed")
        if codes:
            listed = reasons(codes)
            return LivenessFailed("; ".join(r.en for r in listed), reasons=_builtins(listed))
        if score < self.policy.threshold:
            return FaceMismatch("the face does not match the enrolled reference", reasons=_builtins([reason("mismatch")]))
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
