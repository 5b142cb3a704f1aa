"""Is this photo good enough to compare? Face size, framing, sharpness, light, and head pose (measured
by `ml_models.mesh`).

Every check returns a stable reason code, so a phone or kiosk can tell the person what to change —
all the problems at once, not one per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_models.detect import Face


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Degrees, for an unmirrored camera image. Yaw > 0: turned to the person's left; pitch > 0:
    looking up; roll: slope of the eye line, > 0 when the person's left eye is higher."""

    yaw: float
    pitch: float
    roll: float


def _grey(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


# The part of the 112×112 crop that is face rather than hair or background.
_FACE_REGION = (slice(28, 104), slice(24, 88))


def sharpness(aligned: np.ndarray) -> float:
    """Variance of the Laplacian over the face region of the aligned crop (higher is sharper).

    Measured on the aligned crop, so it means the same whatever the photo's resolution, and after
    normalising its contrast, so a dark photo is called dark rather than blurred.
    """
    grey = _grey(aligned)
    grey = (grey - grey.mean()) * (40.0 / max(float(grey.std()), 1.0))
    laplacian = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1])
    rows, cols = _FACE_REGION
    return float(laplacian[rows.start - 1:rows.stop - 1, cols.start - 1:cols.stop - 1].var())


def brightness(aligned: np.ndarray) -> float:
    """Mean brightness (0–255) of the face region of the aligned crop."""
    return float(_grey(aligned[_FACE_REGION]).mean())


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    min_face_pixels: int = 80
    several_faces_ratio: float = 0.4  # a second face at least this wide, relative to the first, counts
    cut_off_fraction: float = 0.1  # of the face box allowed outside the photo
    min_sharpness: float = 50.0
    min_brightness: float = 60.0
    max_brightness: float = 215.0
    max_yaw: float = 25.0
    max_pitch: float = 25.0
    max_roll: float = 30.0


@dataclass(frozen=True, slots=True)
class Quality:
    face_pixels: float
    pose: HeadPose
    sharpness: float
    brightness: float
    detection_score: float


def counted_faces(faces: list[Face], thresholds: QualityThresholds) -> list[Face]:
    """The faces that matter: the largest, and any other at least `several_faces_ratio` as wide.

    Far-away people and faces on posters behind the person are ignored; a second person standing
    close enough to be compared instead is not.
    """
    if not faces:
        return []
    largest = max(faces, key=lambda f: f.width)
    others = [f for f in faces if f is not largest and f.width >= thresholds.several_faces_ratio * largest.width]
    return [largest, *others]


def problems(face: Face, quality: Quality, image_size: tuple[int, int], thresholds: QualityThresholds,
             *, require_frontal: bool) -> list[str]:
    """Reason codes for everything wrong with one face (empty when it can be compared)."""
    found = []
    if quality.face_pixels < thresholds.min_face_pixels:
        found.append("face-too-small")
    width, height = image_size
    x, y, w, h = (float(v) for v in face.box)
    inside_w = max(0.0, min(x + w, width) - max(x, 0.0))
    inside_h = max(0.0, min(y + h, height) - max(y, 0.0))
    outside = 1.0 - (inside_w * inside_h) / max(w * h, 1e-6)
    landmarks_inside = bool(((face.landmarks >= 0) & (face.landmarks < [width, height])).all())
    if outside > thresholds.cut_off_fraction or not landmarks_inside:
        found.append("face-cut-off")
    if quality.brightness < thresholds.min_brightness:
        found.append("too-dark")
    elif quality.brightness > thresholds.max_brightness:
        found.append("too-bright")
    if quality.sharpness < thresholds.min_sharpness:
        found.append("face-blurred")
    pose = quality.pose
    if require_frontal and (abs(pose.yaw) > thresholds.max_yaw or abs(pose.pitch) > thresholds.max_pitch
                            or abs(pose.roll) > thresholds.max_roll):
        found.append("face-not-frontal")
    return found
