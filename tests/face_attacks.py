"""The presentation-attack battery: bursts built from the test photos that try to pass a liveness
challenge without the enrolled person moving in front of a camera, and honest bursts that should pass;
each judged by the whole liveness check at the shipped settings, per capture kind.

The CI runs a few bursts of each (`tests/face/test_attack_battery.py`); `bench/face_attacks.py` runs
many and prints the table published in docs/face-verification.md.

Capture kinds, as the server sees them:
- `unattested`: frames from an ordinary phone or browser — injected or filmed, the server only sees frames;
- `attested, injected`: the attacker sends the frames in the name of a registered installation but
  cannot use its hardware key, so signs with a key of their own;
- `attested, to the camera`: the attack is shown to the genuine app's camera (a print, a screen), so
  the frames arrive genuinely signed and only the frame checks stand in the way.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from backend.config import load_settings
from backend.face.analysis import FaceAnalyser
from backend.face.attestation import AttestationRefused, capture_message, verify_android_signature
from backend.face.capture import CapturePolicies
from backend.face.challenges import judge_frames
from backend.face.engine import FaceEngine
from backend.face.policy import FacePolicy, model_dir
from tests import face_samples
from tests.face_samples import jpeg, photo, rgb_of

REFERENCE = "obama3.jpg"  # the enrolled photo; attacks and honest bursts use the person's other photos
SOURCES = ("obama.jpg", "obama2.jpg")
CAPTURE_KINDS = ("unattested", "attested, injected", "attested, to the camera")


def poses_for(actions: list[str]) -> list[str]:
    poses = ["frontal"]
    for action in actions:
        poses += [action, "frontal"]
    return poses


def _perspective(data: bytes, degrees: float, axis: str) -> bytes:
    """The photo as a print turned about its vertical (`turn`) or horizontal (`nod`) axis."""
    if axis == "turn":
        return face_samples.tilted_photo(data, degrees)
    turned = face_samples.tilted_photo(jpeg(np.ascontiguousarray(np.rot90(rgb_of(data)))), degrees)
    return jpeg(np.ascontiguousarray(np.rot90(rgb_of(turned), -1)))


def _moved(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The whole picture shifted, zoomed and rotated a little, as a hand moves a print about."""
    image = Image.fromarray(rgb)
    angle, zoom = rng.uniform(-12, 12), rng.uniform(0.9, 1.15)
    dx, dy = rng.uniform(-0.05, 0.05) * image.width, rng.uniform(-0.05, 0.05) * image.height
    moved = image.rotate(angle, resample=Image.Resampling.BILINEAR, translate=(dx, dy))
    w, h = image.size
    crop = moved.crop((w * (1 - 1 / zoom) / 2, h * (1 - 1 / zoom) / 2, w * (1 + 1 / zoom) / 2, h * (1 + 1 / zoom) / 2))
    return np.asarray(crop.resize((w, h), Image.Resampling.BILINEAR))


def _lit(rgb: np.ndarray, gain: float, tint: tuple[float, float, float]) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * gain * np.array(tint, np.float32), 0, 255).astype(np.uint8)


def _with_second_face(rgb: np.ndarray) -> np.ndarray:
    """Another person's face beside the first, about as large (someone leaning in)."""
    other = Image.open(io.BytesIO(photo("biden.jpg"))).convert("RGB").crop((200, 50, 800, 650))
    face = face_samples.pipeline().detector.detect(rgb)[0]
    size = int(face.width * 1.6)
    image = Image.fromarray(rgb)
    x = int(face.box[0] + face.box[2] * 1.15)
    x = x if x + size <= image.width else max(0, int(face.box[0]) - size)
    image.paste(other.resize((size, size)), (x, max(0, int(face.box[1]) - size // 5)))
    return np.asarray(image)


def _fresh(frames: list[bytes], seed: int) -> list[bytes]:
    """Each frame with a little sensor noise and its own JPEG encoding, so that no two are the same
    bytes (an attacker would not send the same file twice)."""
    rng = np.random.default_rng(seed)
    return [jpeg(np.clip(rgb_of(frame) + rng.normal(0, 1.5, rgb_of(frame).shape), 0, 255).astype(np.uint8),
                 int(rng.integers(80, 95))) for frame in frames]


def still_resent(source: str, actions: list[str], seed: int) -> list[bytes]:
    return [photo(source)] * len(poses_for(actions))


def still_reencoded(source: str, actions: list[str], seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    rgb = rgb_of(photo(source))
    return [jpeg(np.clip(rgb + rng.normal(0, 1.5, rgb.shape), 0, 255).astype(np.uint8), int(rng.integers(70, 95)))
            for _ in poses_for(actions)]


def print_moved(source: str, actions: list[str], seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    rgb = rgb_of(photo(source))
    return [jpeg(rgb) if i == 0 else jpeg(_moved(rgb, rng)) for i, _ in enumerate(poses_for(actions))]


_TILT = {"turn_left": ("turn", 35.0), "turn_right": ("turn", -35.0), "look_up": ("nod", 30.0),
         "look_down": ("nod", -30.0)}


def print_tilted(source: str, actions: list[str], seed: int) -> list[bytes]:
    data = photo(source)
    return _fresh([data if pose == "frontal" else _perspective(data, _TILT[pose][1], _TILT[pose][0])
                   for pose in poses_for(actions)], seed)


def mirror_flipped(source: str, actions: list[str], seed: int) -> list[bytes]:
    """The photo as frontal, its mirror image posing as a turn (a face turned a little one way reads
    turned the other way mirrored); nods have no mirror and stay the photo."""
    rgb = rgb_of(photo(source))
    mirrored = jpeg(np.ascontiguousarray(rgb[:, ::-1]))
    return _fresh([mirrored if pose.startswith("turn") else jpeg(rgb) for pose in poses_for(actions)], seed)


# Which of the person's photos best poses as each movement (obama2 faces to his right, obama3 to his left and up).
_STITCH = {"frontal": "obama.jpg", "turn_right": "obama2.jpg", "turn_left": "obama3.jpg", "look_up": "obama3.jpg",
           "look_down": "obama2.jpg"}


def stitched(source: str, actions: list[str], seed: int) -> list[bytes]:
    """Frames gathered from different photos of the person, each resized to the first's size."""
    size = Image.open(io.BytesIO(photo(_STITCH["frontal"]))).size
    return _fresh([jpeg(np.asarray(Image.open(io.BytesIO(photo(_STITCH[pose]))).convert("RGB").resize(size)))
                   for pose in poses_for(actions)], seed)


def rendered(source: str, actions: list[str], seed: int) -> list[bytes]:
    """One photo animated to the challenge by the depth renderer, with camera noise: the known hole."""
    return face_samples.burst(photo(source), poses_for(actions), seed=seed)


def rendered_stranger(source: str, actions: list[str], seed: int) -> list[bytes]:
    """Someone else's photo animated to the challenge."""
    return face_samples.burst(photo("biden.jpg"), poses_for(actions), seed=seed)


def second_face(source: str, actions: list[str], seed: int) -> list[bytes]:
    """A rendered burst with a second person's face beside the first in every frame."""
    return [jpeg(_with_second_face(rgb_of(frame))) for frame in rendered(source, actions, seed)]


ATTACKS: dict[str, Callable[[str, list[str], int], list[bytes]]] = {
    "still photo re-sent": still_resent,
    "still photo re-encoded with noise": still_reencoded,
    "printed photo moved, zoomed, tilted in plane": print_moved,
    "perspective warps posing as turns and nods": print_tilted,
    "mirror flips posing as turns": mirror_flipped,
    "frames stitched from different photos": stitched,
    "another person's photo animated": rendered_stranger,
    "a second face in the burst": second_face,
    "one photo animated by the renderer (the known hole)": rendered,
}

# Honest bursts: the person's own movement as the renderer draws it, with camera noise, under other light.
LIGHTING = {"as taken": (1.0, (1.0, 1.0, 1.0)), "dim, warm": (0.65, (1.05, 1.0, 0.85)),
            "bright, cool": (1.3, (0.9, 1.0, 1.1))}


def honest(source: str, actions: list[str], seed: int, lighting: str = "as taken") -> list[bytes]:
    gain, tint = LIGHTING[lighting]
    rng = np.random.default_rng(seed)
    frames = []
    for frame in face_samples.burst(photo(source), poses_for(actions), seed=seed):
        rgb = _lit(rgb_of(frame), gain * rng.uniform(0.97, 1.03), tint)
        shift = rng.integers(-6, 7, size=2)  # a hand-held camera
        frames.append(jpeg(np.roll(rgb, tuple(int(s) for s in shift), axis=(0, 1))))
    return frames


def challenge(seed: int) -> list[str]:
    """A challenge as the server draws them (four independent movements of all four kinds)."""
    rng = np.random.default_rng(10_000 + seed)
    return [str(a) for a in rng.choice(["turn_left", "turn_right", "look_up", "look_down"], size=4)]


@dataclass(frozen=True)
class Verdict:
    """One burst judged: whether it passed, why not, and per capture kind whether it was accepted."""

    passed: bool
    codes: tuple[str, ...]
    by_capture: dict[str, bool]


_GENUINE = ec.generate_private_key(ec.SECP256R1())
_GENUINE_PUBLIC = _GENUINE.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
_ATTACKER = ec.generate_private_key(ec.SECP256R1())


def _signature_verifies(key: ec.EllipticCurvePrivateKey, challenge_id: str, frames: list[bytes]) -> bool:
    message = capture_message(challenge_id, frames)
    try:
        verify_android_signature(_GENUINE_PUBLIC, message, key.sign(message, ec.ECDSA(hashes.SHA256())))
    except AttestationRefused:
        return False
    return True


@dataclass
class Judge:
    """The liveness check as the service runs it, at the shipped settings (only the model folder is
    the test run's): the inference pool, the frame checks and the capture policies. No database:
    judging a burst needs none."""

    engine: FaceEngine
    analyser: FaceAnalyser
    policies: CapturePolicies

    @classmethod
    def shipped(cls) -> Judge:
        settings = load_settings({}, face_model_dir=str(face_samples.model_dir()))
        engine = FaceEngine(model_dir(settings), workers=settings.face_workers, onnx_threads=settings.face_onnx_threads,
                            queue=settings.face_queue)
        return cls(engine, FaceAnalyser(engine, FacePolicy.from_settings(settings)),
                   CapturePolicies.parse(settings.face_capture_policies))

    async def __call__(self, reference: np.ndarray, actions: list[str], frames: list[bytes]) -> Verdict:
        """The whole liveness check of a burst, and each capture kind's outcome: injected frames must
        carry the installation's signature, which only its hardware key makes."""
        detail: dict[str, object] = {}
        async with self.engine.reserve(len(frames)) as slot:
            failure = await judge_frames(self.analyser, slot, reference, actions, frames, detail)  # type: ignore[arg-type]
        passed = failure is None
        codes = tuple(r["code"] for r in failure.extensions.get("reasons", [])) if failure else ()
        challenge_id = "c" * 32
        by_capture = {
            "unattested": passed and self.policies.accepts("face-l3", "unattested"),
            "attested, injected": passed and _signature_verifies(_ATTACKER, challenge_id, frames),
            "attested, to the camera": passed and _signature_verifies(_GENUINE, challenge_id, frames),
        }
        return Verdict(passed, codes, by_capture)

    def close(self) -> None:
        self.engine.close()


def reference_embedding() -> np.ndarray:
    analysis = face_samples.pipeline().analyse(photo(REFERENCE))
    assert analysis.embedding is not None
    return analysis.embedding


def share(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.0f} %)" if total else "–"

