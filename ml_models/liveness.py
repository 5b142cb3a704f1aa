"""Active liveness: did the face in a short burst of frames move as the challenge asked, in one
continuous capture?

Pure functions over what the pipeline measured per frame (head pose, face box, a thumbnail of the
scene). What this can and cannot stop is written down in `docs/face-verification.md`; the short
version: it refuses a still photo re-sent or moved about, a printed photo tilted in front of the
camera, frames gathered from different photos, and a burst prepared before the challenge was known
(it fits one challenge in many). It does NOT stop software that renders the asked movements from one
photo of the person while the challenge is open — the tests' own synthetic head turns are such
renderings and pass — nor a replayed or live-generated video, nor a mask.

A passive presentation-attack detector (a model judging one frame for paper, screen or mask
artefacts) plugs in through `PresentationAttackDetector`. None ships with a published validation
record in any package we can install, so the default is `NoPresentationAttackDetector`, which
judges nothing and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from ml_models.align import similarity_transform
from ml_models.quality import HeadPose

Action = Literal["turn_left", "turn_right", "look_up", "look_down"]
ACTIONS: tuple[Action, ...] = ("turn_left", "turn_right", "look_up", "look_down")
PoseLabel = Literal["frontal", "turn_left", "turn_right", "look_up", "look_down", "between"]


@dataclass(frozen=True, slots=True)
class PoseThresholds:
    """Degrees of the mesh head pose (`ml_models.mesh`), measured from the burst's first frame rather
    than from an absolute zero: a person's own resting pose and expression (a broad smile, a habitual
    tilt) give every frame the same offset, which the first, frontal frame removes.

    Chosen on the steadier mesh measure (docs/face-verification.md, "Head pose"): a frame held still
    moves less than 2° between captures, a printed photo tilted up to 30° reads under 3°, and a head
    turned or nodded by 20° reads 14–22°. Frontal and the movements are far enough apart that a
    person coming back "about" to the camera is frontal and a moderate movement counts.
    """

    baseline: float = 20.0  # the first frame must be at most this far from frontal, absolutely
    still_yaw: float = 8.0
    still_pitch: float = 8.0
    turned: float = 15.0
    nodded: float = 12.0
    off_axis: float = 12.0  # a turn must not also be a nod, and the other way round


def pose_label(pose: HeadPose, baseline: HeadPose, thresholds: PoseThresholds = PoseThresholds()) -> PoseLabel:
    """Which challenge action (if any) a head pose shows, relative to the burst's first frame."""
    yaw, pitch = pose.yaw - baseline.yaw, pose.pitch - baseline.pitch
    if abs(yaw) < thresholds.still_yaw and abs(pitch) < thresholds.still_pitch:
        return "frontal"
    if abs(yaw) >= thresholds.turned and abs(pitch) < thresholds.off_axis:
        return "turn_left" if yaw > 0 else "turn_right"
    if abs(pitch) >= thresholds.nodded and abs(yaw) < thresholds.off_axis:
        return "look_up" if pitch > 0 else "look_down"
    return "between"


def pose_labels(poses: Sequence[HeadPose], thresholds: PoseThresholds = PoseThresholds()) -> list[PoseLabel]:
    """Each frame's label; the first frame is the zero, and "between" if it is not near-frontal."""
    if not poses:
        return []
    first = poses[0]
    if abs(first.yaw) > thresholds.baseline or abs(first.pitch) > thresholds.baseline:
        return ["between"] * len(poses)
    return [pose_label(pose, first, thresholds) for pose in poses]


def performed_actions(labels: Sequence[PoseLabel]) -> list[Action] | None:
    """The movements shown, in order: each run of frames between two frontal ones is one movement.

    None when the burst does not start and end frontal, or when one run shows two different
    movements (turning from left to right without coming back to the camera). A run of only
    in-between frames (a small wobble) is no movement. A movement may repeat after a return.
    """
    if not labels or labels[0] != "frontal" or labels[-1] != "frontal":
        return None
    performed: list[Action] = []
    run: set[str] = set()
    for label in labels[1:]:
        if label != "frontal":
            run.add(label)
            continue
        shown = run - {"between"}
        if len(shown) > 1:
            return None
        performed.extend(shown)  # type: ignore[arg-type]
        run = set()
    return performed


def follows_challenge(labels: Sequence[PoseLabel], challenge: Sequence[Action]) -> bool:
    """True when the burst starts frontal, shows exactly the challenge's movements in order, each
    followed by a return to frontal, and ends frontal.

    Exactly, not "at least": a burst cycling through every pose must not pass any challenge.
    """
    return performed_actions(labels) == list(challenge)


@dataclass(frozen=True, slots=True)
class ContinuityThresholds:
    """How much may change between two consecutive frames of one capture.

    Bounds generous enough for a hand-held phone and a person turning or nodding at their own speed;
    frames taken from different photos (another place, another framing) break them.
    """

    max_shift: float = 0.6  # face centre movement, in face widths
    max_scale: float = 1.5  # ratio of face widths
    max_background_change: float = 0.3  # mean relative brightness change outside the head, best of small shifts
    min_background_share: float = 0.15  # below this share of the picture outside the head, background is not judged


SCENE_SIDE = 32  # the scene thumbnail is SCENE_SIDE × SCENE_SIDE grey values
_SHIFTS = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]  # tolerated camera shake: ±2 thumbnail pixels


@dataclass(frozen=True, slots=True)
class FrameGeometry:
    """What continuity needs of one frame: its size, the face box, and a grey thumbnail of the scene."""

    image_size: tuple[int, int]
    box: np.ndarray  # x, y, width, height in image pixels
    scene: np.ndarray  # SCENE_SIDE × SCENE_SIDE float32


def _outside_head(geometry: FrameGeometry) -> np.ndarray:
    """Thumbnail pixels clear of the head (hair, ears and neck included), as a boolean mask."""
    width, height = geometry.image_size
    x, y, w, h = (float(v) for v in geometry.box)
    cx, cy = (x + w / 2) / width * SCENE_SIDE, (y + h / 2) / height * SCENE_SIDE
    half_w, half_h = w / width * SCENE_SIDE, 1.2 * h / height * SCENE_SIDE
    ys, xs = np.mgrid[0:SCENE_SIDE, 0:SCENE_SIDE] + 0.5
    return ~((np.abs(xs - cx) < half_w) & (np.abs(ys - cy) < half_h))


def background_change(a: FrameGeometry, b: FrameGeometry) -> float | None:
    """How much the scene around the head changed between two frames (0 = same), or None when too
    little of it shows. Brightness is normalised (cameras adjust exposure) and the best of small
    shifts is taken (a hand-held camera moves a little)."""
    mask = _outside_head(a) & _outside_head(b)
    best = None
    for dy, dx in _SHIFTS:
        shifted = np.roll(b.scene, (dy, dx), axis=(0, 1))
        shifted_mask = np.roll(mask, (dy, dx), axis=(0, 1)) & mask
        if shifted_mask.mean() < 0.5 * mask.mean() or not shifted_mask.any():
            continue
        left = a.scene[shifted_mask] / max(float(a.scene[shifted_mask].mean()), 1.0)
        right = shifted[shifted_mask] / max(float(shifted[shifted_mask].mean()), 1.0)
        change = float(np.abs(left - right).mean())
        best = change if best is None else min(best, change)
    return best


@dataclass(frozen=True, slots=True)
class Continuity:
    """The largest change seen between consecutive frames, and whether it stays within bounds."""

    same_size: bool
    shift: float
    scale: float
    background: float | None

    def within(self, thresholds: ContinuityThresholds = ContinuityThresholds()) -> bool:
        return (self.same_size and self.shift <= thresholds.max_shift and self.scale <= thresholds.max_scale
                and (self.background is None or self.background <= thresholds.max_background_change))


def continuity(frames: Sequence[FrameGeometry],
               thresholds: ContinuityThresholds = ContinuityThresholds()) -> Continuity:
    """Measure how much changes from each frame to the next across the burst."""
    same_size = len({f.image_size for f in frames}) <= 1
    shift = scale = 0.0
    background: float | None = None
    for before, after in zip(frames, frames[1:]):
        width = max(float(before.box[2]), 1.0)
        centre_before = before.box[:2] + before.box[2:] / 2
        centre_after = after.box[:2] + after.box[2:] / 2
        shift = max(shift, float(np.linalg.norm(centre_after - centre_before)) / width)
        ratio = float(after.box[2]) / width
        scale = max(scale, ratio, 1 / max(ratio, 1e-6))
        if same_size and (_outside_head(before) & _outside_head(after)).mean() >= thresholds.min_background_share:
            change = background_change(before, after)
            if change is not None:
                background = change if background is None else max(background, change)
    return Continuity(same_size, round(shift, 3), round(scale, 3),
                      None if background is None else round(background, 3))


# How much the five landmarks must change shape (RMS, in eye distances, after removing any shift,
# scaling and in-plane rotation) somewhere in the burst. A still picture re-sent, re-encoded, moved
# or zoomed stays below it; every head movement of a challenge goes well above it.
STILL_SHAPE_CHANGE = 0.02


def shape_change(first: np.ndarray, other: np.ndarray) -> float:
    """How differently shaped two sets of landmarks are, once aligned by a similarity transform."""
    matrix = similarity_transform(other, first)
    mapped = other @ matrix[:, :2].T + matrix[:, 2]
    eye_distance = max(float(np.linalg.norm(first[1] - first[0])), 1e-6)
    return float(np.sqrt(((mapped - first) ** 2).sum(axis=1).mean()) / eye_distance)


def one_still_picture(landmarks: Sequence[np.ndarray], digests: Sequence[bytes]) -> bool:
    """True when the burst repeats a frame byte for byte, or never changes the face's shape."""
    if len(set(digests)) < len(digests):
        return True
    return max((shape_change(landmarks[0], other) for other in landmarks[1:]), default=0.0) < STILL_SHAPE_CHANGE


class PresentationAttackDetector(Protocol):
    """A passive check of one aligned face crop for signs of paper, a screen or a mask."""

    name: str
    present: bool

    def attack_score(self, aligned: np.ndarray) -> float | None:
        """0 (live) … 1 (attack), or None when the detector cannot judge."""


class NoPresentationAttackDetector:
    """The default: no passive anti-spoofing model is installed, and every report says so."""

    name = "not-present"
    present = False

    def attack_score(self, aligned: np.ndarray) -> float | None:
        return None
