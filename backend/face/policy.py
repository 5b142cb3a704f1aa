"""The tunable rules of face verification, read from the settings, and the fixed names they go with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.config import Settings
from ml_models.image import ImageLimits
from ml_models.liveness import ACTIONS, Action, ContinuityThresholds
from ml_models.models import SFACE
from ml_models.pipeline import PipelineConfig
from ml_models.quality import QualityThresholds

# The template is SFace's embedding of a crop aligned our way: both name the model.
TEMPLATE_MODEL = SFACE.name
MOVEMENTS: dict[str, tuple[Action, ...]] = {
    "any": ACTIONS, "turn": ("turn_left", "turn_right"), "nod": ("look_up", "look_down")}


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
    attempts_per_citizen_day: int = 20
    attempts_per_session_hour: int = 5
    attempts_per_device_hour: int = 30
    attempts_per_kiosk_hour: int = 600
    attempts_per_address_hour: int = 300
    retention_days: int = 0
    pipeline: PipelineConfig = PipelineConfig()
    frame_pipeline: PipelineConfig = PipelineConfig(image=ImageLimits(max_pixels=2_000_000))
    continuity: ContinuityThresholds = ContinuityThresholds()
    # The resident ID card's chip photo (102×126 px): its own rules and threshold (backend/face/card.py).
    card_threshold: float = 0.50
    card_pipeline: PipelineConfig = PipelineConfig(
        image=ImageLimits(max_bytes=256 * 1024, max_pixels=250_000),
        quality=QualityThresholds(min_face_pixels=40, min_sharpness=20.0))

    @classmethod
    def from_settings(cls, settings: Settings) -> FacePolicy:
        quality = QualityThresholds(min_face_pixels=settings.face_min_face_pixels)
        return cls(
            threshold=settings.face_threshold, burst_threshold=settings.face_burst_threshold,
            challenge_seconds=settings.face_challenge_seconds,
            attempts_per_citizen_hour=settings.face_attempts_per_citizen_hour,
            attempts_per_citizen_day=settings.face_attempts_per_citizen_day,
            attempts_per_session_hour=settings.face_attempts_per_session_hour,
            attempts_per_device_hour=settings.face_attempts_per_device_hour,
            attempts_per_kiosk_hour=settings.face_attempts_per_kiosk_hour,
            attempts_per_address_hour=settings.face_attempts_per_address_hour,
            retention_days=settings.face_dispute_retention_days,
            card_threshold=settings.face_card_threshold,
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
