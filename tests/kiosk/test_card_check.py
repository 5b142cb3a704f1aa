"""The chip-photo check's own rules and threshold, on every pair the public test photos give (the
evidence docs/face-verification.md states): chip photos made from each photo, against each other photo
taken live."""

import itertools

import pytest

from backend.face.policy import FacePolicy
from kiosk.device.reader import chip_photo
from ml_models.pipeline import cosine_similarity
from tests import face_samples

DISTINCT = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")


def card_photo(name: str) -> bytes:
    data = face_samples.photo(name)
    face = face_samples.pipeline().detector.detect(face_samples.rgb_of(data))[0]
    return chip_photo(data, tuple(float(v) for v in face.box))


@pytest.fixture(scope="module")
def scores() -> dict[tuple[str, str], float]:
    pipeline, policy = face_samples.pipeline(), FacePolicy()
    chips = {name: pipeline.analyse(card_photo(name), policy.card_pipeline) for name in DISTINCT}
    lives = {name: pipeline.analyse(face_samples.photo(name), policy.pipeline) for name in DISTINCT}
    for analysis in [*chips.values(), *lives.values()]:
        assert analysis.usable, analysis.problems
    return {(chip, live): cosine_similarity(chips[chip].embedding, lives[live].embedding)
            for chip, live in itertools.product(DISTINCT, DISTINCT) if chip != live}


def test_chip_photos_pass_their_own_rules_and_not_a_cameras():
    pipeline, policy = face_samples.pipeline(), FacePolicy()
    for name in DISTINCT:
        chip = card_photo(name)
        card_rules = pipeline.analyse(chip, policy.card_pipeline)
        camera_rules = pipeline.analyse(chip, policy.pipeline)
        assert card_rules.usable and 40 <= card_rules.quality.face_pixels < 80
        assert "face-too-small" in camera_rules.problems


def test_the_same_person_scores_well_above_and_others_well_below_the_card_threshold(scores):
    threshold = FacePolicy().card_threshold
    same = [s for (chip, live), s in scores.items() if face_samples.PERSON[chip] == face_samples.PERSON[live]]
    different = [s for (chip, live), s in scores.items() if face_samples.PERSON[chip] != face_samples.PERSON[live]]
    assert len(same) == 6 and len(different) == 6
    assert min(same) >= threshold + 0.1, sorted(same)
    assert max(different) <= threshold - 0.2, sorted(different)
