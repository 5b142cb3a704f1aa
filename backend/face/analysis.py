"""Photos turned into measurements on the inference pool, and the problems a person can act on when
they cannot be compared. Every check (enrolment, photo, liveness burst) analyses through here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from backend.errors import DomainError, FacePhotoTooLarge, FacePhotoUnusable
from backend.face.engine import FaceEngine, PoolSlot
from backend.face.policy import FacePolicy
from backend.face.reasons import reasons
from backend.face.schemas import FaceReason
from ml_models.image import ImageLimits, ImageRejected
from ml_models.liveness import NoPresentationAttackDetector, PresentationAttackDetector
from ml_models.pipeline import FaceAnalysis, FacePipeline, PipelineConfig

SIZE_CODES = frozenset({"image-too-large", "image-too-many-pixels"})


def builtins(items: list[FaceReason]) -> list[dict[str, Any]]:
    return msgspec.to_builtins(items)


def quality_figures(analysis: FaceAnalysis) -> dict[str, float]:
    """What the photo measured, as kept in the audit log and shown to window staff."""
    quality = analysis.quality
    if quality is None:
        return {}
    return {"face_pixels": quality.face_pixels, "yaw": quality.pose.yaw, "pitch": quality.pose.pitch,
            "roll": quality.pose.roll, "sharpness": quality.sharpness, "brightness": quality.brightness,
            "detection_score": quality.detection_score}


def unusable(codes: list[str], pointer: str | None = None, frame: int | None = None) -> DomainError:
    """The problem for photos that cannot be compared: 413 for size, 422 for everything else.

    `codes` with a frame index each (liveness) or one `pointer` (a single photo)."""
    return unusable_listed(reasons(codes, frame), pointer)


def unusable_listed(listed: list[FaceReason], pointer: str | None = None) -> DomainError:
    error_type = FacePhotoTooLarge if SIZE_CODES.intersection(r.code for r in listed) else FacePhotoUnusable
    if pointer is None:
        return error_type("; ".join(f"frame {r.frame}: {r.en}" for r in listed), reasons=builtins(listed),
                          errors=[{"pointer": f"#/frames/{r.frame}", "detail": r.en} for r in listed])
    return error_type("; ".join(r.en for r in listed), reasons=builtins(listed),
                      errors=[{"pointer": pointer, "detail": r.en} for r in listed])


def check_sizes(photos: list[bytes], limits: ImageLimits, pointer: str) -> None:
    """Refuse oversized photos before they take room on the pool."""
    oversized = [i for i, photo in enumerate(photos) if len(photo) > limits.max_bytes]
    if oversized:
        frame = oversized[0] if len(photos) > 1 else None
        raise unusable(["image-too-large"], None if frame is not None else pointer, frame)


@dataclass(slots=True)
class Judged:
    """One photo's analysis (or the reason it is not an image) and the passive detector's score."""

    analysis: FaceAnalysis | None
    rejected: str | None = None
    attack_score: float | None = None


def analyse_all(pipeline: FacePipeline, photos: list[bytes], config: PipelineConfig, *, burst: bool,
                detector: PresentationAttackDetector) -> list[Judged]:
    """Each photo analysed on a pool thread; the passive detector, if installed, on each aligned face."""
    judged = []
    for photo in photos:
        try:
            analysis = pipeline.analyse(photo, config, require_frontal=not burst, keep_scene=burst)
        except ImageRejected as exc:
            judged.append(Judged(None, exc.code))
            continue
        score = None
        if detector.present and analysis.aligned is not None:
            score = detector.attack_score(analysis.aligned)
        judged.append(Judged(analysis, attack_score=score))
    return judged


class FaceAnalyser:
    """The pool, the policy's image limits and the passive detector, as every check uses them."""

    def __init__(self, engine: FaceEngine, policy: FacePolicy,
                 attack_detector: PresentationAttackDetector | None = None) -> None:
        self.engine, self.policy = engine, policy
        self.attack_detector = attack_detector or NoPresentationAttackDetector()

    async def photo(self, slot: PoolSlot, photo: bytes, pointer: str) -> tuple[FaceAnalysis, float | None]:
        """Analyse one photo in a reserved pool slot; an unreadable or oversized one raises its problem."""
        check_sizes([photo], self.policy.pipeline.image, pointer)
        detector, config = self.attack_detector, self.policy.pipeline
        (judged,) = await slot.run(lambda pipeline: analyse_all(pipeline, [photo], config, burst=False,
                                                                detector=detector))
        if judged.analysis is None:
            raise unusable([judged.rejected or "not-an-image"], pointer)
        return judged.analysis, judged.attack_score

    async def burst(self, slot: PoolSlot, frames: list[bytes]) -> list[Judged]:
        """Analyse the frames of a liveness burst in a reserved pool slot (sizes checked by the caller)."""
        detector, config = self.attack_detector, self.policy.frame_pipeline
        return await slot.run(lambda pipeline: analyse_all(pipeline, frames, config, burst=True,
                                                           detector=detector))

    def attack_refusal(self, scores: list[float | None], detail: dict[str, Any]) -> bool:
        """Record the passive detector's scores; True when one of them says attack."""
        if not self.attack_detector.present:
            return False
        judged = [round(score, 4) for score in scores if score is not None]
        detail["attack_scores"] = judged
        return any(score >= self.policy.attack_threshold for score in judged)
