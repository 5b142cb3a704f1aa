"""Head-pose measures against each other, on the goals of the liveness issue: a mirrored photo reads
the opposite yaw, a rescaled photo the same pose, a head rendered turned or nodded by a known angle
that angle. Also the time each measure adds per face, against the five-point measure as baseline.

    python bench/face_pose.py

Measures:
- `five-point`: the first estimator (until the dense mesh replaced it): yaw and pitch from where
  YuNet's nose tip sits between its eye and mouth points, with an average nose depth;
- `pnp-5`: a perspective-n-point fit (OpenCV's SQPnP) of YuNet's five points to a 3-D mean face;
- `mesh`: what the service uses — `ml_models.mesh`: 468 points on a 192×192 crop, averaged with the
  mirrored crop, fitted to a mean face under a scaled orthographic camera.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import numpy as np  # noqa: E402

from ml_models.align import ARCFACE_TEMPLATE  # noqa: E402

# five-point: nose depth per eye distance (yaw) and per eye-to-mouth height (pitch), average adult face.
_NOSE_DEPTH_YAW, _NOSE_DEPTH_PITCH = 0.5, 0.45
_FRONTAL_NOSE_HEIGHT = float((ARCFACE_TEMPLATE[2, 1] - ARCFACE_TEMPLATE[:2, 1].mean())
                             / (ARCFACE_TEMPLATE[3:, 1].mean() - ARCFACE_TEMPLATE[:2, 1].mean()))
# pnp-5: eyes, nose tip, mouth corners of an average adult face in millimetres (x to the image's right,
# y down, z away from the camera), the nose tip at the origin.
_MEAN_FACE_5 = np.array([[-32.5, -35.0, 28.0], [32.5, -35.0, 28.0], [0.0, 0.0, 0.0],
                         [-25.0, 30.0, 22.0], [25.0, 30.0, 22.0]])


def five_point(rgb: np.ndarray, face) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    points = np.asarray(face.landmarks, np.float64)
    eye_vector = points[1] - points[0]
    angle = math.atan2(eye_vector[1], eye_vector[0])
    rotation = np.array([[math.cos(-angle), -math.sin(-angle)], [math.sin(-angle), math.cos(-angle)]])
    level = (points - (points[0] + points[1]) / 2) @ rotation.T
    eye_distance = max(float(np.linalg.norm(eye_vector)), 1e-6)
    mouth = (level[3] + level[4]) / 2
    along = level[2][1] / max(float(mouth[1]), 1e-6)
    yaw = math.degrees(math.atan2((level[2][0] - along * mouth[0]) / eye_distance, _NOSE_DEPTH_YAW))
    pitch = math.degrees(math.atan2(_FRONTAL_NOSE_HEIGHT - along, _NOSE_DEPTH_PITCH))
    return yaw, pitch


def pnp_5(rgb: np.ndarray, face) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    import cv2

    height, width = rgb.shape[:2]
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    _, rvec, _ = cv2.solvePnP(_MEAN_FACE_5, face.landmarks.astype(np.float64).reshape(5, 1, 2), camera, None,
                              flags=cv2.SOLVEPNP_SQPNP)
    rotation, _ = cv2.Rodrigues(rvec)
    back = rotation[:, 2]
    return math.degrees(math.asin(-back[0])), math.degrees(math.asin(back[1]))


def mesh(rgb: np.ndarray, face) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from tests.face_samples import pipeline

    pose = pipeline().mesh.head_pose(rgb, face)
    return pose.yaw, pose.pitch


def per_face_ms(estimate, rounds: int = 30) -> float:  # type: ignore[no-untyped-def]
    from tests.face_samples import photo, pipeline, rgb_of

    rgb = rgb_of(photo("obama.jpg"))
    face = pipeline().detector.detect(rgb)[0]
    estimate(rgb, face)
    started = time.perf_counter()
    for _ in range(rounds):
        estimate(rgb, face)
    return (time.perf_counter() - started) / rounds * 1000


def main() -> None:
    from tests.face_samples import pose_figures

    print("goals: mirror median <= 3, max <= 6; scale max <= 4; rendered MAE <= 5 (degrees)")
    print(f"{'measure':<11} {'mirror med':>10} {'mirror max':>10} {'scale max':>9} {'yaw MAE':>8} {'yaw max':>8} "
          f"{'pitch MAE':>9} {'pitch max':>9} {'ms/face':>8} {'x five-point':>12}")
    baseline = per_face_ms(five_point)
    for name, estimate in (("five-point", five_point), ("pnp-5", pnp_5), ("mesh", mesh)):
        figures = pose_figures(estimate)
        ms = per_face_ms(estimate)
        print(f"{name:<11} {statistics.median(figures.mirror):10.1f} {max(figures.mirror):10.1f} "
              f"{max(figures.scale):9.1f} {statistics.mean(figures.yaw_errors):8.1f} {max(figures.yaw_errors):8.1f} "
              f"{statistics.mean(figures.pitch_errors):9.1f} {max(figures.pitch_errors):9.1f} {ms:8.2f} "
              f"{ms / baseline:12.0f}", flush=True)


if __name__ == "__main__":
    main()
