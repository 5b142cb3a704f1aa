"""Head pose from a dense face mesh: 468 landmarks predicted by MediaPipe's face-landmark model on a
crop around the detected face, fitted to a mean face.

Why not the five detector landmarks: one nose tip and two mouth corners carry a few pixels of noise,
and a head pose read from them moved by up to 19° when the same photo was mirrored or scaled. Here:

1. the face is cut out square around YuNet's box (1.5× its larger side), turned so the eyes are level,
   at 192×192 — the size and framing the model expects, whatever the photo's resolution;
2. the model runs on the crop and on its mirror image in one batch, and the two predictions are
   averaged point by point (each point with its mirror partner), so left and right are judged alike;
3. the head's rotation is the one that best maps a mean face (3-D) onto the predicted points in the
   picture under a scaled orthographic camera. Only the inner face takes part (eyes, brows, nose,
   mouth, cheeks): the outline of the jaw and forehead is where a landmark model is least sure and
   what hair, collars and backgrounds disturb.

The mean face and each point's mirror partner are data made from the model's own predictions on the
test photos (`build_mesh_table`), kept in `data/face_mesh.json`, and checked against a rebuild by the tests.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from ml_models.align import warp_affine
from ml_models.detect import Face
from ml_models.quality import HeadPose

INPUT_SIDE = 192
POINTS = 468
ROI_SCALE = 1.5  # the crop's side, in the detector box's larger side
INNER_RADIUS = 0.8  # of the mean face's half-width and half-height: points inside take part in the fit
# Points on the face's midline (each its own mirror partner) at the top of the forehead and the chin.
FOREHEAD = (10, 151, 9, 8)
CHIN = (152, 175, 199, 200)
TABLE = Path(__file__).parent / "data" / "face_mesh.json"


@functools.cache
def mesh_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mirror partner of each point, indices of the inner points, the mean face at those points)."""
    table = json.loads(TABLE.read_text())
    return (np.array(table["mirror"], np.intp), np.array(table["inner"], np.intp),
            np.array(table["mean_face"], np.float64))


def crop_matrix(face: Face) -> tuple[np.ndarray, float]:
    """The 2×3 transform from the photo to the model's 192×192 crop, and the crop's turn in degrees."""
    right_eye, left_eye = face.landmarks[0], face.landmarks[1]
    angle = math.atan2(float(left_eye[1] - right_eye[1]), float(left_eye[0] - right_eye[0]))
    x, y, w, h = (float(v) for v in face.box)
    scale = INPUT_SIDE / (ROI_SCALE * max(w, h))
    cos, sin = math.cos(-angle) * scale, math.sin(-angle) * scale
    centre = np.array([x + w / 2, y + h / 2])
    rotation = np.array([[cos, -sin], [sin, cos]])
    offset = (INPUT_SIDE - 1) / 2 - rotation @ centre
    return np.hstack([rotation, offset[:, None]]), math.degrees(angle)


def _flipped_back(points: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """A prediction on the mirrored crop, flipped back, and moved onto `points` (the face need not sit
    in the middle of the crop, so the flip also shifts it)."""
    flipped = mirrored.copy()
    flipped[:, 0] = -flipped[:, 0]
    return flipped - flipped.mean(axis=0) + points.mean(axis=0)


def symmetrised(points: np.ndarray, mirrored: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The average of a prediction and the prediction on the mirrored crop, mapped back point by point."""
    return (points + _flipped_back(points, mirrored)[mirror]) / 2


def _levelled(points: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Points centred, turned so the face looks straight at the camera (the left-right axis along x,
    forehead to chin along y), and scaled to an outer-eye distance of one."""
    centred = points - points.mean(axis=0)
    right = [i for i in range(POINTS) if mirror[i] > i and centred[i, 0] < centred[mirror[i], 0]]
    right += [int(mirror[i]) for i in range(POINTS) if mirror[i] > i and centred[i, 0] >= centred[mirror[i], 0]]
    across = (centred[mirror[right]] - centred[right]).sum(axis=0)
    across /= np.linalg.norm(across)
    down = centred[list(CHIN)].mean(axis=0) - centred[list(FOREHEAD)].mean(axis=0)
    down -= (down @ across) * across
    down /= np.linalg.norm(down)
    levelled = centred @ np.stack([across, down, np.cross(across, down)]).T
    return levelled / np.linalg.norm(levelled[263] - levelled[33])


def mirror_partners(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Each point's mirror partner, from predictions on crops and on their mirror images: the pairing
    (an involution) that best maps every mirrored prediction onto its original."""
    cost = np.zeros((POINTS, POINTS))
    for points, mirrored in pairs:
        cost += np.linalg.norm(_flipped_back(points, mirrored)[:, None, :] - points[None, :, :], axis=2)
    cost += cost.T
    partner = np.full(POINTS, -1)
    for flat in np.argsort(cost, axis=None):
        i, j = divmod(int(flat), POINTS)
        if partner[i] < 0 and partner[j] < 0:
            partner[i], partner[j] = j, i
    return partner


def build_mesh_table(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, list]:
    """The table in `data/face_mesh.json`, from predictions on near-frontal crops and their mirrors."""
    mirror = mirror_partners(pairs)
    mean = np.mean([_levelled(symmetrised(p, m, mirror), mirror) for p, m in pairs], axis=0)
    half = np.abs(mean[:, :2]).max(axis=0)
    inner = np.flatnonzero(np.hypot(mean[:, 0] / half[0], mean[:, 1] / half[1]) <= INNER_RADIUS)
    return {"mirror": mirror.tolist(), "inner": inner.tolist(),
            "mean_face": np.round(mean[inner], 4).tolist()}


def fitted_pose(points: np.ndarray, inner: np.ndarray, mean_face: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch and roll (degrees, `HeadPose`'s signs) of the rotation that best maps the mean face
    onto the predicted points' positions in the picture under a scaled orthographic camera.

    The least-squares linear map from the mean face to the picture is found first, then its two rows
    are replaced by the nearest pair of orthonormal rows (the camera's axes in the face's frame)."""
    picture = points[inner, :2] - points[inner, :2].mean(axis=0)
    model = mean_face - mean_face.mean(axis=0)
    linear = np.linalg.lstsq(model, picture, rcond=None)[0].T  # 2×3
    u, _, vt = np.linalg.svd(linear, full_matrices=False)
    rows = u @ vt
    rotation = np.vstack([rows, np.cross(rows[0], rows[1])])
    across, down = rotation[:, 0], rotation[:, 1]
    back = np.cross(across, down)  # from the face towards the back of the head
    yaw = math.degrees(math.asin(float(np.clip(-back[0], -1, 1))))
    pitch = math.degrees(math.asin(float(np.clip(back[1], -1, 1))))
    roll = math.degrees(math.atan2(-float(across[1]), float(across[0])))
    return yaw, pitch, roll


class FaceMesh:
    """The landmark model: one onnxruntime session, safe to call from several threads at once."""

    def __init__(self, session: object) -> None:
        self.session = session
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        self._output = session.get_outputs()[0].name  # type: ignore[attr-defined]

    def crop(self, rgb: np.ndarray, face: Face) -> tuple[np.ndarray, float]:
        matrix, angle = crop_matrix(face)
        return warp_affine(rgb, matrix, INPUT_SIDE), angle

    def points(self, crop: np.ndarray) -> np.ndarray:
        """468 × (x, y, z) in crop pixels, averaged with the prediction on the mirrored crop."""
        batch = np.stack([crop, crop[:, ::-1]]).astype(np.float32) / 255.0
        (raw,) = self.session.run([self._output], {self._input: batch})  # type: ignore[attr-defined]
        predicted = raw.reshape(2, POINTS, 3).astype(np.float64)
        mirror, _, _ = mesh_table()
        return symmetrised(predicted[0], predicted[1], mirror)

    def head_pose(self, rgb: np.ndarray, face: Face) -> HeadPose:
        """The head pose of `face` in `rgb` (an unmirrored camera picture)."""
        crop, angle = self.crop(rgb, face)
        _, inner, mean_face = mesh_table()
        yaw, pitch, roll = fitted_pose(self.points(crop), inner, mean_face)
        roll = (roll - angle + 180) % 360 - 180  # the crop was turned to level the eyes
        return HeadPose(round(yaw, 1), round(pitch, 1), round(roll, 1))
