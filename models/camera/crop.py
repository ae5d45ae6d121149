"""Weak-perspective crop cameras (HMR2.0's ``[s, tx, ty]``) — an internal detail of crop models.

A weak-perspective camera belongs to a square crop of side ``box_size`` centred at ``box_center``.
HMR2.0 trains with a focal of 5000 px for 256-px crops (a 2.9° field of view); that convention
never places bodies in the full image (docs/camera.md): the real intrinsics do.
"""

from __future__ import annotations

import numpy as np
from stmocap.models.camera.pinhole import Intrinsics

CROP_TRAINING_FOCAL = 5000.0
CROP_TRAINING_SIZE = 256


def crop_training_focal(crop_size: int = CROP_TRAINING_SIZE) -> float:
    """HMR2.0's training focal length for a crop of ``crop_size`` pixels (5000 px at 256)."""
    return CROP_TRAINING_FOCAL / CROP_TRAINING_SIZE * crop_size


def crop_cam_to_translation(cam: np.ndarray, box_center: np.ndarray, box_size: np.ndarray,
                            intr: Intrinsics) -> np.ndarray:
    """Weak-perspective ``cam (N, 3)`` of crops → camera translation ``(N, 3)`` under ``intr``.

    ``tz = 2 fx / (box_size · s)``; ``tx = tx_crop + 2 (bx − cx) / (box_size · s)`` (``ty`` alike
    with ``fy``, ``cy``): the body's crop projection reproduced by the full-image camera. A fallback
    for per-frame models that give only a crop camera (the replay profile); the lite profile fits
    the translation by perspective instead (:mod:`stmocap.models.camera.perspective`).
    """
    s = np.maximum(cam[:, 0], 1e-6)
    bs = box_size * s
    tz = 2.0 * intr.fx / bs
    tx = cam[:, 1] + 2.0 * (box_center[:, 0] - intr.cx) / bs
    ty = cam[:, 2] + 2.0 * (box_center[:, 1] - intr.cy) / bs
    return np.stack([tx, ty, tz], axis=-1)
