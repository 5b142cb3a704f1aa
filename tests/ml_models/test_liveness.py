"""Head pose from landmarks, and the rules that judge a liveness burst."""

import hashlib

import numpy as np

from ml_models.liveness import follows_challenge, one_still_picture, pose_labels
from ml_models.quality import HeadPose
from tests import face_samples


def _labels(frames: list[bytes]) -> list[str]:
    pipeline = face_samples.pipeline()
    return pose_labels([pipeline.analyse(f, require_frontal=False).quality.pose for f in frames])


def test_synthetic_head_movements_are_seen_in_the_intended_direction():
    frames = face_samples.burst(face_samples.photo("obama.jpg"),
                                ["frontal", "turn_left", "frontal", "turn_right", "look_up", "look_down"])
    assert _labels(frames) == ["frontal", "turn_left", "frontal", "turn_right", "look_up", "look_down"]


def test_a_printed_photo_tilted_in_front_of_the_camera_is_not_a_head_turn():
    photo = face_samples.photo("obama.jpg")
    frames = [photo, face_samples.tilted_photo(photo, 35), face_samples.tilted_photo(photo, -35)]
    assert _labels(frames) == ["frontal", "frontal", "frontal"]


def test_the_burst_must_start_frontal_and_show_exactly_the_challenge_in_order():
    challenge = ["turn_left", "look_up"]
    assert follows_challenge(["frontal", "between", "turn_left", "turn_left", "frontal", "look_up"], challenge)
    assert not follows_challenge(["frontal", "look_up", "turn_left"], challenge)
    assert not follows_challenge(["turn_left", "frontal", "look_up"], challenge)
    everything = ["frontal", "turn_left", "turn_right", "look_up", "look_down", "turn_left", "look_up"]
    assert not follows_challenge(everything, challenge)


def test_poses_are_measured_from_the_first_frame():
    smiling = HeadPose(yaw=2.0, pitch=-10.0, roll=0.0)  # a broad smile reads as looking down
    assert pose_labels([smiling, HeadPose(3.0, -2.0, 0.0), HeadPose(2.0, -19.0, 0.0)]) == \
        ["frontal", "look_up", "look_down"]
    assert pose_labels([HeadPose(30.0, 0.0, 0.0), HeadPose(0.0, 0.0, 0.0)]) == ["between", "between"]


def test_a_still_picture_is_found_even_when_re_encoded_or_moved():
    photo = face_samples.photo("obama.jpg")
    pipeline = face_samples.pipeline()
    still = [photo, face_samples.jpeg(face_samples.rgb_of(photo), 70),
             face_samples.jpeg(np.roll(face_samples.rgb_of(photo), 40, axis=1), 80)]
    live = face_samples.burst(photo, ["frontal", "turn_left", "look_up"])

    def landmarks(frames):
        return [pipeline.analyse(f, require_frontal=False).face.landmarks for f in frames]

    assert one_still_picture(landmarks(still), [hashlib.sha256(f).digest() for f in still])
    assert not one_still_picture(landmarks(live), [hashlib.sha256(f).digest() for f in live])
    assert one_still_picture(landmarks(live), [b"a", b"b", b"a"])  # a frame sent twice
