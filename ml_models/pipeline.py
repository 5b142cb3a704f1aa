"""The whole path from photo bytes to a face embedding: decode, detect, measure the head pose, check
quality, align, embed.

A `FacePipeline` holds the three onnxruntime sessions (detector, landmark mesh, recogniser); it is loaded once per process
(`shared_pipeline`) and is safe to call from several threads at once — onnxruntime releases the GIL
while it computes, so a small thread pool runs as many inferences in parallel as it has threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ml_models import models
from ml_models.align import align
from ml_models.detect import Face, YuNet
from ml_models.image import ImageLimits, decode
from ml_models.liveness import SCENE_SIDE
from ml_models.mesh import FaceMesh
from ml_models.quality import Quality, QualityThresholds, brightness, counted_faces, problems, sharpness

EMBEDDING_SIZE = 128


def session_options(intra_op_threads: int) -> object:
    """onnxruntime options for a server: a fixed number of threads that sleep when idle.

    Spinning threads would keep cores busy between requests, stealing them from the event loop.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def open_session(model: bytes, intra_op_threads: int) -> object:
    import onnxruntime

    return onnxruntime.InferenceSession(model, session_options(intra_op_threads),
                                        providers=["CPUExecutionProvider"])


class SFace:
    """The recogniser: a 112×112 aligned RGB crop in, a unit-length 128-d embedding out."""

    def __init__(self, session: object) -> None:
        self.session = session

    def embed(self, aligned: np.ndarray) -> np.ndarray:
        tensor = np.ascontiguousarray(aligned.transpose(2, 0, 1)[None], dtype=np.float32)
        (features,) = self.session.run(["fc1"], {"data": tensor})  # type: ignore[attr-defined]
        vector = features[0].astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two embeddings (1 = same direction)."""
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    image: ImageLimits = ImageLimits()
    quality: QualityThresholds = QualityThresholds()
    detect_side: int = 640


@dataclass(slots=True)
class FaceAnalysis:
    """What one photo showed. `problems` holds reason codes; `embedding` is set only without them."""

    faces: int
    face: Face | None = None
    quality: Quality | None = None
    problems: list[str] = field(default_factory=list)
    embedding: np.ndarray | None = None
    aligned: np.ndarray | None = None
    image_size: tuple[int, int] = (0, 0)
    scene: np.ndarray | None = None  # a small grey thumbnail of the whole picture, for liveness continuity
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return not self.problems and self.embedding is not None


class FacePipeline:
    def __init__(self, detector: YuNet, recogniser: SFace, mesh: FaceMesh) -> None:
        self.detector = detector
        self.recogniser = recogniser
        self.mesh = mesh

    @classmethod
    def load(cls, cache_dir: Path, intra_op_threads: int = 1) -> FacePipeline:
        """Convert (first time only), check and open the models; `ModelError` names a bad file."""
        files = models.prepare_all(cache_dir)
        return cls(YuNet(open_session(files[models.YUNET.name], intra_op_threads)),
                   SFace(open_session(files[models.SFACE.name], intra_op_threads)),
                   FaceMesh(open_session(files[models.FACE_MESH.name], intra_op_threads)))

    def analyse(self, data: bytes, config: PipelineConfig = PipelineConfig(), *,
                require_frontal: bool = True, keep_scene: bool = False) -> FaceAnalysis:
        """Decode and inspect one photo; embed its face if nothing is wrong with it. `keep_scene`
        keeps a thumbnail of the picture (liveness frames are compared with their neighbours).

        Raises `ImageRejected` when the bytes are not a usable image at all.
        """
        clock = time.perf_counter
        started = clock()
        decoded = decode(data, config.image)
        rgb = decoded.rgb
        timings = {"decode": clock() - started}

        started = clock()
        faces = counted_faces(self.detector.detect(rgb, config.detect_side), config.quality)
        timings["detect"] = clock() - started
        analysis = FaceAnalysis(faces=len(faces), image_size=(rgb.shape[1], rgb.shape[0]))
        if keep_scene:
            analysis.scene = np.asarray(Image.fromarray(rgb).convert("L").resize(
                (SCENE_SIDE, SCENE_SIDE), Image.Resampling.BOX), dtype=np.float32)
        if not faces:
            analysis.problems.append("no-face")
        elif len(faces) > 1:
            analysis.problems.append("several-faces")
        else:
            started = clock()
            face = faces[0]
            pose = self.mesh.head_pose(rgb, face)
            timings["pose"] = clock() - started
            started = clock()
            crop = align(rgb, face.landmarks)
            quality = Quality(face_pixels=round(face.width, 1), pose=pose,
                              sharpness=round(sharpness(crop), 1), brightness=round(brightness(crop), 1),
                              detection_score=round(face.score, 3))
            analysis.face, analysis.quality, analysis.aligned = face, quality, crop
            analysis.problems.extend(problems(face, quality, analysis.image_size, config.quality,
                                              require_frontal=require_frontal))
            timings["align"] = clock() - started
            if not analysis.problems:
                started = clock()
                analysis.embedding = self.recogniser.embed(crop)
                timings["embed"] = clock() - started
        analysis.timings_ms = {stage: round(seconds * 1000, 2) for stage, seconds in timings.items()}
        return analysis


_shared: dict[tuple[Path, int], FacePipeline] = {}
_shared_lock = threading.Lock()


def shared_pipeline(cache_dir: Path, intra_op_threads: int = 1) -> FacePipeline:
    """This process's pipeline for `cache_dir`, loaded on first use and then reused."""
    key = (cache_dir.resolve(), intra_op_threads)
    with _shared_lock:
        pipeline = _shared.get(key)
        if pipeline is None:
            pipeline = _shared[key] = FacePipeline.load(cache_dir, intra_op_threads)
        return pipeline
