"""YuNet face detection around an onnxruntime session: input tensor, anchor decoding, NMS.

YuNet predicts, for every point of three grids (strides 8, 16, 32), a class score, an objectness
score, a box offset and five landmarks. A face's score is sqrt(class · objectness); the box centre is
the grid point plus the predicted offset, its size exp(prediction) times the stride.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

STRIDES = (8, 16, 32)
# YuNet's input must be a multiple of its largest stride; images are padded at the right and bottom.
PAD_TO = 32


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face in image coordinates.

    `box` is (x, y, width, height); `landmarks` are five (x, y) points in the order right eye, left
    eye, nose tip, right mouth corner, left mouth corner — right and left of the person.
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2])

    def enlarged(self, factor: int) -> Face:
        """The same face in an image `factor` times larger (pixel centres at integer coordinates)."""
        shift = (factor - 1) / 2
        box = np.concatenate([self.box[:2] * factor + shift, self.box[2:] * factor])
        return Face(box, self.landmarks * factor + shift, self.score)


def reduction(size: tuple[int, int], max_side: int) -> int:
    """The integer factor that brings the long side of `size` to at most `max_side`."""
    return max(1, -(-max(size) // max_side))


def detector_image(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """The image YuNet looks at: reduced by an integer factor (box filter, fast) to at most `max_side`."""
    factor = reduction((rgb.shape[1], rgb.shape[0]), max_side)
    if factor > 1:
        rgb = np.asarray(Image.fromarray(rgb).reduce(factor))
    return rgb, factor


def detector_input(rgb: np.ndarray) -> np.ndarray:
    """The 1×3×H×W BGR float tensor YuNet reads, zero-padded at the right and bottom to a multiple of
    32, as OpenCV's `FaceDetectorYN` pads."""
    height, width = rgb.shape[:2]
    padded_h, padded_w = -(-height // PAD_TO) * PAD_TO, -(-width // PAD_TO) * PAD_TO
    tensor = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
    tensor[0, :, :height, :width] = rgb[:, :, ::-1].transpose(2, 0, 1)
    return tensor


def decode_outputs(outputs: dict[str, np.ndarray], tensor_shape: tuple[int, ...],
                   score_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N×4, x y w h), landmarks (N×5×2) and scores (N) of every anchor above the threshold."""
    padded_w = tensor_shape[3]
    boxes, landmarks, scores = [], [], []
    for stride in STRIDES:
        cols = padded_w // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= score_threshold)
        if keep.size == 0:
            continue
        grid = np.stack([keep % cols, keep // cols], axis=1).astype(np.float32)
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
        centre = (grid + bbox[:, :2]) * stride
        size = np.exp(bbox[:, 2:]) * stride
        boxes.append(np.concatenate([centre - size / 2, size], axis=1))
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[keep]
        landmarks.append((kps + grid[:, None, :]) * stride)
        scores.append(score[keep])
    if not scores:
        return np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros(0, np.float32)
    return np.concatenate(boxes), np.concatenate(landmarks), np.concatenate(scores)


def non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
                            top_k: int = 5000) -> list[int]:
    """Indices of the boxes kept, best first: each box suppresses later ones overlapping it too much."""
    order = np.argsort(-scores, kind="stable")[:top_k]
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    kept: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(int(best))
        overlap_w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        overlap_h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        intersection = overlap_w * overlap_h
        iou = intersection / (area[best] + area[rest] - intersection + 1e-9)
        order = rest[iou <= iou_threshold]
    return kept


class YuNet:
    """The detector: one onnxruntime session, safe to call from several threads at once."""

    def __init__(self, session: object, *, score_threshold: float = 0.7, nms_threshold: float = 0.3) -> None:
        self.session = session
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._names = [o.name for o in session.get_outputs()]  # type: ignore[attr-defined]

    def detect(self, rgb: np.ndarray, max_side: int = 640) -> list[Face]:
        """Faces in `rgb`, best first, in its coordinates; searched at most `max_side` pixels wide."""
        small, factor = detector_image(rgb, max_side)
        return [face.enlarged(factor) for face in self.detect_exactly(small)]

    def detect_exactly(self, rgb: np.ndarray) -> list[Face]:
        """Faces in `rgb` at its own size, best first."""
        tensor = detector_input(rgb)
        values = self.session.run(self._names, {"input": tensor})  # type: ignore[attr-defined]
        boxes, landmarks, scores = decode_outputs(dict(zip(self._names, values, strict=True)),
                                                  tensor.shape, self.score_threshold)
        kept = non_maximum_suppression(boxes, scores, self.nms_threshold)
        return [Face(boxes[i], landmarks[i], float(scores[i])) for i in kept]
