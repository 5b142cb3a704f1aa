"""Our pipeline against OpenCV's implementation (FaceDetectorYN, FaceRecognizerSF) on the same
models and the same images: same faces, same landmarks, the same embeddings."""

import itertools

import cv2
import numpy as np
import pytest

from backend.config import Settings
from ml_models import models
from ml_models.align import align
from ml_models.detect import detector_image
from ml_models.image import decode
from ml_models.pipeline import cosine_similarity
from tests import face_samples


@pytest.fixture(scope="module")
def opencv_recogniser(tmp_path_factory):
    """OpenCV's SFace on the shipped file."""
    return cv2.FaceRecognizerSF.create(str(face_samples.opencv_sface_file(tmp_path_factory.mktemp("opencv"))), "")


def opencv_faces(image_rgb: np.ndarray) -> np.ndarray:
    height, width = image_rgb.shape[:2]
    detector = cv2.FaceDetectorYN.create(str(models.source_path(models.YUNET)), "", (width, height), 0.7, 0.3, 5000)
    _, faces = detector.detect(np.ascontiguousarray(image_rgb[:, :, ::-1]))
    return faces if faces is not None else np.zeros((0, 15), np.float32)


@pytest.mark.parametrize("name", face_samples.PHOTOS)
def test_same_faces_boxes_landmarks_and_embeddings_as_opencv(name, opencv_recogniser):
    rgb = decode(face_samples.photo(name)).rgb
    small, factor = detector_image(rgb, 640)

    reference = opencv_faces(small)
    ours = face_samples.pipeline().detector.detect_exactly(small)

    assert len(ours) == len(reference) >= 1
    for face, row in zip(ours, reference, strict=True):
        assert np.abs(face.box - row[:4]).max() < 2.0
        assert np.abs(face.landmarks - row[4:14].reshape(5, 2)).max() < 2.0
        assert abs(face.score - row[14]) < 0.01
    # Embeddings: OpenCV aligns and embeds from its own detection; we from ours.
    opencv_row = reference[0].copy()
    opencv_row[:14] = opencv_row[:14] * factor
    opencv_row[[0, 1, *range(4, 14)]] += (factor - 1) / 2
    crop = opencv_recogniser.alignCrop(np.ascontiguousarray(rgb[:, :, ::-1]), opencv_row)
    theirs = opencv_recogniser.feature(crop).ravel()
    mine = face_samples.pipeline().recogniser.embed(align(rgb, ours[0].enlarged(factor).landmarks))
    assert cosine_similarity(theirs, mine) >= 0.99


def test_same_person_scores_above_the_threshold_and_different_people_below():
    threshold = Settings().face_threshold
    embeddings = {name: face_samples.pipeline().analyse(face_samples.photo(name)).embedding
                  for name in face_samples.PERSON}
    for a, b in itertools.combinations(embeddings, 2):
        score = cosine_similarity(embeddings[a], embeddings[b])
        if face_samples.PERSON[a] == face_samples.PERSON[b]:
            assert score >= threshold + 0.15, (a, b, score)
        else:
            assert score <= threshold - 0.15, (a, b, score)
