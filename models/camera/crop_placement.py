"""Full-image placement of a crop model's body (HMR2.0): perspective fit, not the crop's focal.

A crop model predicts pose and a weak-perspective camera ``[s, tx, ty]`` for a square crop of side
``size`` pixels centred at ``center`` in the full image, under its training focal length
(5000 px for a 256-px crop: :func:`stmocap.models.camera.crop_training_focal`). Its body joints,
projected with that crop camera, land on pixels of the crop, hence of the full image. Those pixels
are the model's own 2D evidence; the root translation in metres is then fitted to them with the
real intrinsics (:func:`fit_translation`), exactly as the lite profile fits BlazePose's landmarks.
The crop focal only ever converts the crop camera into image points; it never places the body.

Frames: joints in camera orientation (x right, y down, z forward), metres, relative to the body
model's output origin (root at ``J₀(β)``); pixels from the image's top-left corner.
"""

from __future__ import annotations

import numpy as np
from stmocap.models.camera.crop import CROP_TRAINING_FOCAL, CROP_TRAINING_SIZE
from stmocap.models.camera.perspective import fit_translation
from stmocap.models.camera.pinhole import Intrinsics


def crop_projection(joints: np.ndarray, cam: np.ndarray, center: np.ndarray, size: float,
                    focal: float = CROP_TRAINING_FOCAL / CROP_TRAINING_SIZE) -> np.ndarray:
    """Image pixels ``(J, 2)`` of ``joints (J, 3)`` under a crop's weak-perspective ``cam (3,)``.

    The crop camera sits at ``t = [tx, ty, 2·focal/s]`` (``focal`` in units of the crop side:
    5000/256 for HMR2.0) and projects to crop coordinates in [−½, ½]; those scale by ``size`` and
    shift by ``center (2,)`` into the full image.
    """
    s, tx, ty = (float(v) for v in cam)
    t = np.array([tx, ty, 2.0 * focal / max(s, 1e-9)])
    X = np.asarray(joints, np.float64) + t
    z = np.maximum(X[:, 2], 1e-6)
    crop = focal * X[:, :2] / z[:, None]
    return np.asarray(center, np.float64) + crop * float(size)


def place_crop_body(joints: np.ndarray, cam: np.ndarray, center: np.ndarray, size: float,
                    intr: Intrinsics, init: np.ndarray | None = None, iterations: int = 10,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """SMPL translation ``(3,)`` in metres that puts ``joints (J, 3)`` (body-model output frame) on
    the pixels where the crop camera ``cam`` shows them, under the real ``intr``.

    ``init``: a warm start (the track's previous translation); ``weights (J,)``: per joint (default
    1). Pixels are undistorted already (they come from the model, not the lens).
    """
    pixels = crop_projection(joints, cam, center, size)
    w = np.ones(len(joints)) if weights is None else np.asarray(weights, np.float64)
    return fit_translation(joints, pixels, w, intr, init=init, iterations=iterations)
