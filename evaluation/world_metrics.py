"""Metric placement and world-frame metrics (numpy; definitions in docs/groundtruth.md).

Camera frame: root depth error (fraction of the true depth) and root position error (metres), per
frame. World frame, as WHAM (Shin et al., CVPR 2024) reports them, on ``(T, J, 3)`` joints in
metres:

* ``W-MPJPE100``: the sequence cut into 100-frame segments; each predicted segment rigidly aligned
  (rotation + translation, no scale) to the truth on its first two frames' joints; MPJPE over the
  segment; mean over segments.
* ``WA-MPJPE100``: the same with each segment aligned on all its frames.
* ``RTE``: the predicted root trajectory rigidly aligned (no scale) to the true one over the whole
  sequence; mean over frames of the root error divided by the true trajectory's length; in %.
"""

from __future__ import annotations

import numpy as np

SEGMENT = 100


def root_depth_error(pred_root: np.ndarray, gt_root: np.ndarray) -> np.ndarray:
    """``|z_pred − z_gt| / z_gt`` per frame for camera-frame roots ``(N, 3)``."""
    return np.abs(pred_root[:, 2] - gt_root[:, 2]) / np.abs(gt_root[:, 2])


def root_position_error(pred_root: np.ndarray, gt_root: np.ndarray) -> np.ndarray:
    """``‖pred − gt‖`` per frame (metres) for camera-frame roots ``(N, 3)``."""
    return np.linalg.norm(pred_root - gt_root, axis=-1)


def rigid_transform(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(R, t)`` minimising ``Σ ‖R src_i + t − dst_i‖²`` over points ``(N, 3)`` (Kabsch, proper
    rotation, no scale)."""
    ms, md = src.mean(0), dst.mean(0)
    H = (src - ms).T @ (dst - md)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, md - R @ ms


def _segments(T: int, size: int = SEGMENT) -> list[slice]:
    return [slice(s, min(s + size, T)) for s in range(0, T, size) if min(s + size, T) - s >= 2]


def w_mpjpe(pred: np.ndarray, gt: np.ndarray, segment: int = SEGMENT, whole: bool = False) -> float:
    """W-MPJPE (``whole=False``: aligned on each segment's first two frames) or WA-MPJPE
    (``whole=True``: on the whole segment) of world joints ``(T, J, 3)``, millimetres."""
    errs = []
    for seg in _segments(len(pred), segment):
        p, g = pred[seg], gt[seg]
        fit = slice(None) if whole else slice(0, 2)
        R, t = rigid_transform(p[fit].reshape(-1, 3), g[fit].reshape(-1, 3))
        aligned = p @ R.T + t
        errs.append(np.linalg.norm(aligned - g, axis=-1).mean())
    return float(np.mean(errs) * 1000.0) if errs else float("nan")


def rte(pred_root: np.ndarray, gt_root: np.ndarray) -> float:
    """Root trajectory error in % of the true trajectory's length (see module docstring)."""
    length = float(np.linalg.norm(np.diff(gt_root, axis=0), axis=-1).sum())
    if length < 1e-6:
        return float("nan")
    R, t = rigid_transform(pred_root, gt_root)
    err = np.linalg.norm(pred_root @ R.T + t - gt_root, axis=-1)
    return float(err.mean() / length * 100.0)


def camera_pitch_height(cam_rot: np.ndarray, cam_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True camera pitch (degrees, positive looking down) and height (m) of world → camera poses
    ``cam_rot (N, 3, 3)``, ``cam_t (N, 3)`` in a y-up world with the floor at y = 0."""
    up_cam = cam_rot[:, :, 1]  # world +y in camera coordinates
    pitch = np.degrees(np.arcsin(np.clip(-up_cam[:, 2], -1, 1)))
    centre = -np.einsum("nji,nj->ni", cam_rot, cam_t)  # −Rᵀ t
    return pitch, centre[:, 1]
