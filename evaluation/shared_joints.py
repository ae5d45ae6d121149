"""Scoring on the 12 joints SMPL and BlazePose share (issue 12's side-by-side with mediapipe).

The 12 joints, in this order: left/right shoulder, elbow, wrist, hip, knee, ankle ("left" is the
person's left in both conventions). :data:`SMPL_SHARED` picks them from the 24 SMPL joints,
:data:`BLAZEPOSE_SHARED` from BlazePose's 33 landmarks.

Both poses are hip-centred first (the mean of the two hip joints subtracted, so the root is the
same construction on both sides) in the camera frame (OpenCV axes: x right, y down, z forward).
Note that SMPL's hip joints (the centres of the femoral heads, inside the pelvis) and BlazePose's
hip landmarks are not the same anatomical points: BlazePose's are annotated nearer the outside of
the hips, so its hip width differs and every joint inherits the offset through the centring.
PA-MPJPE (similarity Procrustes per frame) removes the part of that which is a scale or rotation.

Metrics, per frame (``(N,)``), then averaged by the caller:

* MPJPE: mean Euclidean distance over the 12 joints, mm;
* PA-MPJPE: the same after the best similarity transform of the prediction onto the truth, mm;
* limb-direction error: the mean over the 8 limbs (upper arms shoulder→elbow, forearms
  elbow→wrist, thighs hip→knee, shins knee→ankle) of the angle between the predicted and the true
  unit vectors of the limb, degrees. It ignores limb lengths and the root, so it compares the
  poses' shapes alone.
"""

from __future__ import annotations

import numpy as np
import torch
from stmocap.evaluation.metrics import mpjpe, pa_mpjpe

SHARED_NAMES: tuple[str, ...] = ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
                                 "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")
SMPL_SHARED: tuple[int, ...] = (16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)
BLAZEPOSE_SHARED: tuple[int, ...] = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
SHARED_HIPS: tuple[int, int] = (6, 7)
LIMBS: tuple[tuple[str, int, int], ...] = (
    ("l_upper_arm", 0, 2), ("r_upper_arm", 1, 3), ("l_forearm", 2, 4), ("r_forearm", 3, 5),
    ("l_thigh", 6, 8), ("r_thigh", 7, 9), ("l_shin", 8, 10), ("r_shin", 9, 11))
"""(name, from, to) as indices into the 12 shared joints."""


def hip_centred(joints: np.ndarray) -> np.ndarray:
    """``(N, 12, 3)`` shared joints minus the mean of their two hips."""
    return joints - joints[:, list(SHARED_HIPS)].mean(axis=1, keepdims=True)


def limb_direction_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per frame, the mean angle in degrees between predicted and true limb directions over the
    8 :data:`LIMBS`: ``(N, 12, 3)`` twice → ``(N,)``."""
    a = np.stack([pred[:, j] - pred[:, i] for _, i, j in LIMBS], axis=1)
    b = np.stack([gt[:, j] - gt[:, i] for _, i, j in LIMBS], axis=1)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    cos = np.clip((a * b).sum(-1), -1.0, 1.0)
    return np.degrees(np.arccos(cos)).mean(axis=1)


def score_shared(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    """MPJPE, PA-MPJPE (mm) and limb-direction error (degrees), averaged over the frames where
    ``valid (N,)`` is true (default: all), of shared joints ``pred, gt (N, 12, 3)`` in metres,
    both hip-centred here; also ``frames`` (the count scored) and ``hip_width_ratio`` (median
    predicted / true distance between the two hips)."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.shape[1:] != (len(SHARED_NAMES), 3):
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (N, 12, 3)")
    keep = np.ones(len(pred), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    keep &= np.isfinite(pred).all(axis=(1, 2))
    if not keep.any():
        nan = float("nan")
        return {"frames": 0, "mpjpe": nan, "pa_mpjpe": nan, "limb_deg": nan, "hip_width_ratio": nan}
    p, g = hip_centred(pred[keep]), hip_centred(gt[keep])
    tp, tg = torch.from_numpy(p), torch.from_numpy(g)
    hips = list(SHARED_HIPS)
    width = (np.linalg.norm(p[:, hips[0]] - p[:, hips[1]], axis=-1)
             / np.maximum(np.linalg.norm(g[:, hips[0]] - g[:, hips[1]], axis=-1), 1e-12))
    return {"frames": int(keep.sum()),
            "mpjpe": float(mpjpe(tp, tg).mean()),
            "pa_mpjpe": float(pa_mpjpe(tp, tg).mean()),
            "limb_deg": float(limb_direction_error(p, g).mean()),
            "hip_width_ratio": float(np.median(width))}
