"""Head pose from landmarks, and the rules that judge a liveness burst."""

import hashlib
import io

import numpy as np
from PIL import Image

from ml_models.liveness import FrameGeometry, continuity, follows_challenge, one_still_picture, pose_labels
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


def test_the_burst_must_show_exactly_the_challenge_with_a_return_to_frontal_after_each_movement():
    challenge = ["turn_left", "look_up"]
    assert follows_challenge(["frontal", "between", "turn_left", "turn_left", "frontal", "look_up", "frontal"], challenge)
    assert not follows_challenge(["frontal", "turn_left", "frontal", "look_up"], challenge)  # must end frontal
    assert not follows_challenge(["turn_left", "frontal", "look_up", "frontal"], challenge)  # must start frontal
    assert not follows_challenge(["frontal", "turn_left", "look_up", "frontal"], challenge)  # no return in between
    assert not follows_challenge(["frontal", "look_up", "frontal", "turn_left", "frontal"], challenge)
    everything = ["frontal", "turn_left", "frontal", "turn_right", "frontal", "look_up", "frontal", "look_down",
                  "frontal", "turn_left", "frontal", "look_up", "frontal"]
    assert not follows_challenge(everything, challenge)
    # A movement may repeat after a return; a hold over several frames is one movement.
    assert follows_challenge(["frontal", "turn_left", "frontal", "turn_left", "frontal"], ["turn_left", "turn_left"])
    assert not follows_challenge(["frontal", "turn_left", "turn_left", "frontal"], ["turn_left", "turn_left"])


def test_poses_are_measured_from_the_first_frame():
    smiling = HeadPose(yaw=2.0, pitch=-10.0, roll=0.0)  # a person's resting pose carries an offset
    assert pose_labels([smiling, HeadPose(3.0, 4.0, 0.0), HeadPose(2.0, -24.0, 0.0), HeadPose(12.0, -10.0, 0.0)]) == \
        ["frontal", "look_up", "look_down", "between"]
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


def _geometry(frames: list[bytes]) -> list[FrameGeometry]:
    pipeline = face_samples.pipeline()
    analyses = [pipeline.analyse(f, require_frontal=False, keep_scene=True) for f in frames]
    return [FrameGeometry(a.image_size, a.face.box, a.scene) for a in analyses]


def test_one_continuous_capture_stays_within_the_continuity_bounds_even_with_a_shaking_camera():
    frames = face_samples.burst(face_samples.photo("obama.jpg"), ["frontal", "turn_left", "frontal", "look_up", "frontal"])
    shaken = face_samples.jpeg(np.roll(face_samples.rgb_of(frames[2]), (12, -18), axis=(0, 1)))

    steady = continuity(_geometry(frames))
    moved = continuity(_geometry([frames[0], frames[1], shaken, frames[3], frames[4]]))

    assert steady.within() and steady.same_size and steady.background < 0.05, steady
    assert moved.within(), moved


def test_frames_gathered_from_different_photos_are_not_one_capture():
    obama = face_samples.photo("obama.jpg")
    other = face_samples.photo("obama2.jpg")
    # The other photo brought to the same size, so only its scene and framing give it away.
    width, height = face_samples.rgb_of(obama).shape[1::-1]
    resized = face_samples.jpeg(np.asarray(Image.open(io.BytesIO(other)).convert("RGB").resize((width, height))))

    different_size = continuity(_geometry([obama, other, obama]))
    same_size = continuity(_geometry([obama, resized, obama]))

    assert not different_size.within() and not different_size.same_size
    assert not same_size.within() and same_size.same_size, same_size
