"""Camera geometry: weak-perspective crops to full-image translation, and pinhole projection.

Frames: camera coordinates are x right, y down, z forward (OpenCV), metres. Image coordinates are
pixels with the origin at the top-left corner. A weak-perspective camera ``[s, tx, ty]`` belongs to
a square crop of side ``box_size`` centred at ``box_center``, as in HMR2.0.
"""

from __future__ import annotations

import math

import numpy as np


def default_focal(width: int, height: int) -> float:
    """HMR2.0's demo focal length in pixels: ``5000 / 256 · max(W, H)``."""
    return 5000.0 / 256.0 * max(width, height)


def focal_from_fov(fov_deg: float, width: int, height: int) -> float:
    """Focal length in pixels for a field of view across the image's longer side."""
    if not 1.0 <= fov_deg <= 179.0:
        raise ValueError(f"field of view must be in 1..179 degrees, got {fov_deg}")
    return 0.5 * max(width, height) / math.tan(math.radians(fov_deg) / 2)


def crop_cam_to_translation(cam: np.ndarray, box_center: np.ndarray, box_size: np.ndarray,
                            image_size: tuple[int, int], focal: float) -> np.ndarray:
    """Weak-perspective ``cam (N, 3)`` of crops → camera translation ``(N, 3)`` for the full image.

    ``tz = 2 f / (box_size · s)``; ``tx = tx_crop + 2 (cx − W/2) / (box_size · s)`` (``ty`` alike),
    so that projecting the body with focal ``f`` and the principal point at the image centre
    reproduces the crop's weak-perspective projection.
    """
    s = np.maximum(cam[:, 0], 1e-6)
    bs = box_size * s
    W, H = image_size
    tz = 2.0 * focal / bs
    tx = cam[:, 1] + 2.0 * (box_center[:, 0] - W / 2.0) / bs
    ty = cam[:, 2] + 2.0 * (box_center[:, 1] - H / 2.0) / bs
    return np.stack([tx, ty, tz], axis=-1)


def project(points: np.ndarray, focal: float, image_size: tuple[int, int]) -> np.ndarray:
    """Pinhole projection of camera-frame ``points (..., 3)`` → pixels ``(..., 2)`` (centre principal
    point)."""
    W, H = image_size
    z = np.maximum(points[..., 2:3], 1e-6)
    return points[..., :2] * focal / z + np.array([W / 2.0, H / 2.0])
