"""Each photo problem a person can fix is named by its own reason code."""

import io

import numpy as np
from PIL import Image

from tests import face_samples


def _problems(data: bytes, **options) -> list[str]:
    return face_samples.pipeline().analyse(data, **options).problems


def test_real_portraits_pass_and_are_embedded():
    for name in ("obama.jpg", "obama3.jpg", "biden.jpg", "32bit.png"):
        analysis = face_samples.pipeline().analyse(face_samples.photo(name))
        assert analysis.problems == [], name
        assert analysis.embedding.shape == (128,) and abs(float(np.linalg.norm(analysis.embedding)) - 1) < 1e-5
        assert set(analysis.timings_ms) == {"decode", "detect", "pose", "align", "embed"}


def test_no_face_several_faces_and_a_tiny_face():
    assert _problems(face_samples.no_face()) == ["no-face"]
    assert _problems(face_samples.two_faces()) == ["several-faces"]
    assert _problems(face_samples.tiny_face()) == ["face-too-small"]


def test_a_face_far_behind_the_person_does_not_count_as_a_second_face():
    person = Image.open(io.BytesIO(face_samples.photo("obama.jpg"))).convert("RGB")
    poster = Image.open(io.BytesIO(face_samples.photo("biden.jpg"))).convert("RGB").crop((250, 80, 700, 560))
    person.paste(poster.resize((poster.width // 5, poster.height // 5)), (20, 20))
    analysis = face_samples.pipeline().analyse(face_samples.jpeg(np.asarray(person)))
    assert analysis.problems == [] and analysis.faces == 1


def test_dark_blurred_and_cut_off_faces():
    assert _problems(face_samples.darkened(face_samples.photo("obama.jpg"))) == ["too-dark"]
    assert _problems(face_samples.blurred(face_samples.photo("obama.jpg"))) == ["face-blurred"]
    assert "face-cut-off" in _problems(face_samples.photo("obama_partial_face2.jpg"))


def test_a_turned_head_is_not_frontal_unless_frontal_is_not_required():
    # obama2.jpg is already turned about 18° to his right; turn it further.
    turned = face_samples.burst(face_samples.photo("obama2.jpg"), ["turn_right"])[0]
    assert _problems(turned) == ["face-not-frontal"]
    assert _problems(turned, require_frontal=False) == []
