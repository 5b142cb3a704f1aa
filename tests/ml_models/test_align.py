"""Detection post-processing and five-point alignment, checked against known answers and OpenCV."""

import math

import cv2
import numpy as np

from ml_models.align import ARCFACE_TEMPLATE, similarity_transform, warp_affine
from ml_models.detect import non_maximum_suppression


def test_the_similarity_transform_recovers_a_known_one():
    angle, scale, shift = math.radians(23), 0.37, np.array([12.5, -40.0])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    source = np.random.default_rng(3).uniform(0, 500, (5, 2))
    target = source @ (scale * rotation).T + shift

    matrix = similarity_transform(source, target)

    assert np.allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    assert np.allclose(matrix[:, 2], shift, atol=1e-7)


def test_a_mirrored_face_is_not_aligned_by_a_reflection():
    mirrored = ARCFACE_TEMPLATE * [-1, 1]
    matrix = similarity_transform(mirrored, ARCFACE_TEMPLATE)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_the_warp_matches_opencv():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur((rng.random((300, 400, 3)) * 255).astype(np.uint8), (7, 7), 2)
    matrix = similarity_transform(np.array([[150, 120], [230, 118], [190, 160], [160, 200], [225, 198.0]]),
                                  ARCFACE_TEMPLATE)

    ours = warp_affine(image, matrix).astype(int)
    reference = cv2.warpAffine(image, matrix, (112, 112), flags=cv2.INTER_LINEAR).astype(int)

    assert np.abs(ours - reference).mean() < 0.6


def test_nms_keeps_the_best_of_overlapping_boxes_and_every_separate_one():
    boxes = np.array([[10, 10, 100, 100], [14, 12, 100, 100], [300, 300, 80, 80], [12, 8, 98, 104]], np.float32)
    scores = np.array([0.80, 0.95, 0.90, 0.85], np.float32)
    assert non_maximum_suppression(boxes, scores, 0.3) == [1, 2]
