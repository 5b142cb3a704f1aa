"""Real face photos for the tests, images derived from them, and one loaded pipeline per test run.

The photos are the public test images in the source distribution of `face_recognition==1.3.0` on
PyPI (MIT licence; see docs/face-verification.md): two people, Barack Obama (three distinct photos and
crops of one) and Joe Biden (one photo). They are fetched once per machine with pip into
`~/.cache/tongban-test-images` (or `$TONGBAN_TEST_IMAGES`), checked against the archive's SHA-256.
"""

from __future__ import annotations

import atexit
import functools
import io
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# The photos themselves are fetched by the module the kiosk's card simulator shares.
from kiosk.device.sample_photos import PERSON, PHOTOS, SDIST, SDIST_SHA256, photo, photo_folder  # noqa: F401
from ml_models.detect import Face
from ml_models.pipeline import FacePipeline, shared_pipeline


@functools.cache
def model_dir() -> Path:
    """One converted-model folder per test run."""
    folder = Path(tempfile.mkdtemp(prefix="tongban-face-models-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def pipeline() -> FacePipeline:
    """The test run's one loaded pipeline (the same object the services under test use)."""
    return shared_pipeline(model_dir(), 1)


def rgb_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# -- photos that must be refused --------------------------------------------------------------------

def two_faces() -> bytes:
    """Obama and Biden side by side at similar size."""
    left = Image.open(io.BytesIO(photo("obama.jpg"))).convert("RGB").crop((150, 0, 760, 700))
    right = Image.open(io.BytesIO(photo("biden.jpg"))).convert("RGB").crop((200, 50, 800, 650))
    right = right.resize((int(right.width * 1.3), int(right.height * 1.3)))
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return jpeg(np.asarray(canvas))


def tiny_face() -> bytes:
    """The whole obama.jpg scaled down until the face is about 40 pixels wide."""
    image = Image.open(io.BytesIO(photo("obama.jpg"))).convert("RGB")
    return jpeg(np.asarray(image.resize((image.width // 6, image.height // 6))))


def no_face() -> bytes:
    """The lower part of obama.jpg: suit and folded arms, no face."""
    image = Image.open(io.BytesIO(photo("obama.jpg"))).convert("RGB")
    return jpeg(np.asarray(image.crop((0, 650, image.width, image.height))))


def corrupt() -> bytes:
    """A JPEG cut off half-way."""
    data = photo("obama.jpg")
    return data[: len(data) // 2]


def too_many_bytes(limit: int) -> bytes:
    """A real PNG (random noise compresses badly) just over `limit` bytes."""
    side = int(math.sqrt(limit / 3)) + 64
    noise = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    data = png(Image.fromarray(noise))
    assert len(data) > limit
    return data


def too_many_pixels() -> bytes:
    """A small PNG file of 6000×5000 pixels (30 megapixels) of one colour."""
    return png(Image.new("L", (6000, 5000), 128))


def darkened(data: bytes, factor: float = 0.15) -> bytes:
    return jpeg((rgb_of(data).astype(np.float32) * factor).astype(np.uint8))


def blurred(data: bytes, radius: float = 6.0) -> bytes:
    from PIL import ImageFilter

    return jpeg(np.asarray(Image.open(io.BytesIO(data)).convert("RGB").filter(ImageFilter.GaussianBlur(radius))))


# -- head movements synthesised from one photo ------------------------------------------------------

def _bilinear(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    xs, ys = np.clip(xs, 0, width - 1.001), np.clip(ys, 0, height - 1.001)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = (xs - x0)[..., None], (ys - y0)[..., None]
    image = rgb.astype(np.float32)
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return np.clip(top * (1 - fy) + bottom * fy + 0.5, 0, 255).astype(np.uint8)


def turn_head(rgb: np.ndarray, face: Face, yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    """Render the photo as if the head had turned by `yaw` (> 0: to the person's left) and nodded by
    `pitch` (> 0: looking up).

    The face is given depth — a rounded head plus a nose standing out of it — and rotated; each output
    pixel is traced back to the photo. Unlike a flat warp of the picture, the nose moves further than
    the eyes and mouth, as on a real head; beyond the head the photo is left as it is.
    """
    x, y, w, h = (float(v) for v in face.box)
    cx, cy = x + w / 2, y + h / 2
    a, b = w * 0.55, h * 0.65
    eye_distance = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
    nose = face.landmarks[2]
    sigma = 0.3 * eye_distance

    def depth(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        head = 0.6 * a * np.clip(1 - ((px - cx) / a) ** 2 - ((py - cy) / b) ** 2, 0, None)
        bump = 0.5 * eye_distance * np.exp(-((px - nose[0]) ** 2 + (py - nose[1]) ** 2) / (2 * sigma**2))
        return head + bump

    # Only the window around the head moves; the rest of the photo is copied.
    top, bottom = max(0, int(cy - 1.7 * b)), min(rgb.shape[0], int(cy + 1.7 * b) + 1)
    left, right = max(0, int(cx - 1.7 * a)), min(rgb.shape[1], int(cx + 1.7 * a) + 1)
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float64)
    turn, nod = math.radians(yaw), math.radians(pitch)
    sx, sy = xs.copy(), ys.copy()
    for _ in range(5):  # fixed-point iteration: where did this output pixel come from?
        z = depth(sx, sy)
        sx = cx + (xs - cx - z * math.sin(turn)) / math.cos(turn)
        sy = cy + (ys - cy + z * math.sin(nod)) / math.cos(nod)
    distance = np.sqrt(((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2)
    weight = np.clip((1.6 - distance) / 0.6, 0, 1)
    out = rgb.copy()
    out[top:bottom, left:right] = _bilinear(rgb, xs + weight * (sx - xs), ys + weight * (sy - ys))
    return out


# Degrees (yaw, pitch) rendered for each pose: a moderate turn and nod, as an older person makes them.
POSES = {"frontal": (0.0, 0.0), "turn_left": (25.0, 0.0), "turn_right": (-25.0, 0.0),
         "look_up": (0.0, 20.0), "look_down": (0.0, -20.0)}


def burst(data: bytes, poses: list[str], seed: int = 0) -> list[bytes]:
    """JPEG frames of the person in `data` holding each pose in turn, with a little camera noise and
    movement so that no two frames are the same picture."""
    return [_frame(data, name, seed * 1000 + index) for index, name in enumerate(poses)]


@functools.lru_cache(maxsize=256)
def _frame(data: bytes, pose: str, seed: int) -> bytes:
    rgb = rgb_of(data)
    face = pipeline().detector.detect(rgb)[0]
    rng = np.random.default_rng(seed)
    yaw, pitch = POSES[pose]
    out = turn_head(rgb, face, yaw + rng.uniform(-1, 1), pitch + rng.uniform(-1, 1))
    noisy = out.astype(np.float32) * rng.uniform(0.95, 1.05) + rng.normal(0, 2.0, out.shape)
    return jpeg(np.clip(noisy, 0, 255).astype(np.uint8))


# -- how steady a head-pose measure is --------------------------------------------------------------

# Photos with one face each: the four portraits and the two crops of obama.jpg.
POSE_PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg",
               "obama_partial_face2.jpg")
RENDERED_ANGLES = tuple(range(-30, 31, 5))


@dataclass(frozen=True)
class PoseFigures:
    """What the head-pose goals are about, in degrees.

    `mirror`: per photo, |yaw(photo) + yaw(mirrored photo)| (yaw changes sign and keeps its size);
    `scale`: per photo and factor 0.5 and 2, the larger change of yaw or pitch against the photo as is;
    `yaw_errors` / `pitch_errors`: per portrait and rendered angle, |measured change − rendered angle|,
    the change counted from the same portrait rendered at 0° (a photo's own pose is not known)."""

    mirror: list[float]
    scale: list[float]
    yaw_errors: list[float]
    pitch_errors: list[float]


def resized(rgb: np.ndarray, factor: float) -> np.ndarray:
    image = Image.fromarray(rgb)
    return np.asarray(image.resize((round(image.width * factor), round(image.height * factor)),
                                   Image.Resampling.LANCZOS))


def pose_figures(estimate: Callable[[np.ndarray, Face], tuple[float, float]],
                 angles: tuple[int, ...] = RENDERED_ANGLES) -> PoseFigures:
    """Measure a head-pose estimator `estimate(rgb, face) → (yaw, pitch)` on the test photos, their
    mirror images and rescalings, and on rendered turns and nods of known `angles`."""
    detect = pipeline().detector.detect

    def measured(rgb: np.ndarray) -> tuple[float, float]:
        return estimate(rgb, max(detect(rgb), key=lambda f: f.width))

    mirror, scale = [], []
    for name in POSE_PHOTOS:
        rgb = rgb_of(photo(name))
        yaw, pitch = measured(rgb)
        mirror.append(abs(yaw + measured(np.ascontiguousarray(rgb[:, ::-1]))[0]))
        for factor in (0.5, 2.0):
            yaw_scaled, pitch_scaled = measured(resized(rgb, factor))
            scale.append(max(abs(yaw_scaled - yaw), abs(pitch_scaled - pitch)))
    yaw_errors, pitch_errors = [], []
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        rgb = rgb_of(photo(name))
        face = detect(rgb)[0]
        yaw0, pitch0 = measured(turn_head(rgb, face))
        for angle in angles:
            yaw_errors.append(abs(measured(turn_head(rgb, face, yaw=angle))[0] - yaw0 - angle))
            pitch_errors.append(abs(measured(turn_head(rgb, face, pitch=angle))[1] - pitch0 - angle))
    return PoseFigures(mirror, scale, yaw_errors, pitch_errors)


def tilted_photo(data: bytes, degrees: float) -> bytes:
    """The whole photo turned about a vertical axis like a printed picture held at an angle: a flat
    perspective warp, which moves the nose exactly as much as the eyes."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    squeeze = math.cos(math.radians(degrees))
    near = (1 - squeeze) * w / 2
    lift = 0.08 * h * math.sin(math.radians(abs(degrees)))
    # Corners of the output (a trapezoid) → corners of the photo.
    if degrees > 0:
        quad = [(near, -lift), (near, h + lift), (w - near, h), (w - near, 0)]
    else:
        quad = [(near, 0), (near, h), (w - near, h + lift), (w - near, -lift)]
    coefficients = _perspective(quad, [(0, 0), (0, h), (w, h), (w, 0)])
    return jpeg(np.asarray(image.transform((w, h), Image.Transform.PERSPECTIVE, coefficients,
                                           Image.Resampling.BILINEAR)))


def _perspective(output: list[tuple[float, float]], source: list[tuple[float, float]]) -> list[float]:
    """Coefficients mapping output corners to source corners, as Pillow's PERSPECTIVE wants."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(output, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return list(np.linalg.solve(np.array(rows, float), np.array(rhs, float)))


def opencv_sface_file(folder: Path) -> Path:
    """The shipped SFace file as OpenCV 5 loads it: with its graph inputs reduced to `data`. OpenCV is
    the reference implementation the tests and the benchmark compare against."""
    import onnx

    from ml_models import models

    model = onnx.load(str(models.source_path(models.SFACE)))
    real = [i for i in model.graph.input if i.name == "data"]
    del model.graph.input[:]
    model.graph.input.extend(real)
    path = folder / "sface_opencv.onnx"
    onnx.save(model, str(path))
    return path
