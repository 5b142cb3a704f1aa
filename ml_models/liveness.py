"""Active liveness: did the face in a short burst of frames move as the challenge asked?

Pure functions over what the pipeline measured per frame (head pose, aligned crop). What this can and
cannot stop is written down in `docs/face-verification.md`; the short version: it defeats a still
photo, re-sent or moved about, and makes a prepared recording unlikely to fit; it does not stop a
replayed video that happens to fit, a live deepfake injected into the camera stream, or a mask.

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
    """Degrees, measured from the burst's first frame rather than from an absolute zero.

    Landmark-based pitch and yaw carry a per-person, per-expression offset (a broad smile moves the
    mouth corners up); taking the first, frontal frame as the zero removes it.
    """

    baseline: float = 20.0  # the first frame must be at most this far from frontal, absolutely
    still_yaw: float = 8.0
    still_pitch: float = 5.0
    turned: float = 15.0
    nodded: float = 8.0
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


def performed_actions(labels: Sequence[PoseLabel]) -> list[Action]:
    """The actions shown, in order, each held pose counted once (frontal and in-between ignored)."""
    performed: list[Action] = []
    for label in labels:
        if label in ACTIONS and (not performed or performed[-1] != label):
            performed.append(label)  # type: ignore[arg-type]
    return performed


def follows_challenge(labels: Sequence[PoseLabel], challenge: Sequence[Action]) -> bool:
    """True when the burst starts frontal and shows exactly the challenge's actions, in order.

    Exactly, not "at least": a burst cycling through every pose must not pass any challenge.
    """
    return bool(labels) and labels[0] == "frontal" and performed_actions(labels) == list(challenge)


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
