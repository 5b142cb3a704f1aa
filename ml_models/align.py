"""Five-point alignment onto the 112×112 ArcFace template, which SFace was trained on.

The similarity transform (rotation, uniform scale, translation) that best maps the detected landmarks
onto the template is estimated in closed form (Umeyama, 1991); the crop is warped with Pillow.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CROP_SIZE = 112
# Right eye, left eye, nose tip, right and left mouth corner in the 112×112 crop.
ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2×3 matrix of the least-squares similarity transform taking `source` points to `target`.

    Umeyama's solution: rotation from the SVD of the cross-covariance, with a reflection forbidden.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_c, target_c = source - source_mean, target - target_mean
    covariance = target_c.T @ source_c / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(covariance) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = (source_c**2).sum() / len(source)
    scale = (singular * sign).sum() / variance if variance > 0 else 1.0
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def warp_affine(rgb: np.ndarray, matrix: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Apply a 2×3 forward transform (pixel centres at integer coordinates) with bilinear sampling.

    Pillow wants the inverse map and puts pixel centres at +0.5; the offset below reconciles the two
    conventions so the result matches OpenCV's `warpAffine` on the same matrix.
    """
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    (a, b, c), (d, e, f) = inverse
    coefficients = (a, b, c + 0.5 * (1 - a - b), d, e, f + 0.5 * (1 - d - e))
    warped = Image.fromarray(rgb).transform((size, size), Image.Transform.AFFINE, coefficients,
                                            resample=Image.Resampling.BILINEAR)
    return np.asarray(warped)


def align(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112×112 RGB face crop SFace expects."""
    return warp_affine(rgb, similarity_transform(landmarks, ARCFACE_TEMPLATE))
