"""Pose and motion metrics in VIBE/TCMR conventions.

Inputs are joints or vertices in metres, ``(N, J, 3)`` (N frames); outputs are per-frame errors
in millimetres, ``(N,)`` (``(N − 2,)`` for acceleration), so callers average however they need.
Root alignment (VIBE: subtract the pelvis, the mean of both hips) is a separate step:
:func:`align_root`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

MM_PER_M = 1000.0

# Indices into the 17 Human3.6M joints for the 14 LSP-style joints (J14) used in evaluation,
# and MPS-Net/TCMR's reordering of the H36M regressor output.
H36M_TO_J17 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9)
H36M_TO_J14 = H36M_TO_J17[:14]
J14_HIPS = (2, 3)  # left/right hip in J14 order; their mean is the pelvis


def align_root(joints: Tensor, root: Sequence[int]) -> Tensor:
    """Subtract the mean of joints ``root`` (e.g. both hips) from ``joints (..., J, 3)``."""
    return joints - joints[..., list(root), :].mean(dim=-2, keepdim=True)


def _check(pred: Tensor, gt: Tensor) -> None:
    if pred.shape != gt.shape or pred.shape[-1] != 3:
        raise ValueError(f"pred {tuple(pred.shape)} and gt {tuple(gt.shape)} must both be (..., J, 3)")


def mpjpe(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean per-joint position error, ``(N, J, 3)`` metres → ``(N,)`` millimetres."""
    _check(pred, gt)
    return (pred - gt).norm(dim=-1).mean(dim=-1) * MM_PER_M


def mpvpe(pred_vertices: Tensor, gt_vertices: Tensor) -> Tensor:
    """Mean per-vertex position error, ``(N, V, 3)`` metres → ``(N,)`` millimetres."""
    return mpjpe(pred_vertices, gt_vertices)


def similarity_procrustes(pred: Tensor, gt: Tensor) -> Tensor:
    """Align ``pred (N, J, 3)`` to ``gt`` with the best scale, rotation and translation per frame.

    Solves ``min_{s, R, t} Σ_j ‖s R p_j + t − g_j‖²`` in closed form (Umeyama): SVD of the
    cross-covariance, with a sign fix so ``R`` is a proper rotation.
    """
    _check(pred, gt)
    mu_p = pred.mean(dim=-2, keepdim=True)
    mu_g = gt.mean(dim=-2, keepdim=True)
    p = pred - mu_p
    g = gt - mu_g
    var_p = (p * p).sum(dim=(-1, -2))
    K = g.transpose(-1, -2) @ p  # (N, 3, 3) = Σ g_j p_jᵀ
    U, S, Vh = torch.linalg.svd(K)
    d = torch.sign(torch.linalg.det(U @ Vh))
    d = torch.where(d == 0, torch.ones_like(d), d)
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1))
    R = U @ D @ Vh
    scale = (S * D.diagonal(dim1=-2, dim2=-1)).sum(-1) / var_p.clamp_min(1e-12)
    return scale[..., None, None] * p @ R.transpose(-1, -2) + mu_g


def pa_mpjpe(pred: Tensor, gt: Tensor) -> Tensor:
    """MPJPE after similarity Procrustes alignment of ``pred`` to ``gt``: ``(N,)`` millimetres."""
    return mpjpe(similarity_procrustes(pred, gt), gt)


def acceleration(x: Tensor) -> Tensor:
    """Second finite difference ``x[t−1] − 2x[t] + x[t+1]`` of ``(N, ...)`` → ``(N − 2, ...)``."""
    return x[:-2] - 2 * x[1:-1] + x[2:]


def accel_error(pred: Tensor, gt: Tensor, valid: Tensor | None = None) -> Tensor:
    """Acceleration error per frame, first and last excluded: ``(N, J, 3)`` → ``(N − 2,)`` mm/frame².

    ``‖acc(pred) − acc(gt)‖`` averaged over joints. With ``valid (N,)`` (bool), frames whose
    acceleration touches an invalid frame are dropped, as VIBE does.
    """
    _check(pred, gt)
    if pred.shape[0] < 3:
        raise ValueError(f"acceleration needs at least 3 frames, got {pred.shape[0]}")
    err = (acceleration(pred) - acceleration(gt)).norm(dim=-1).mean(dim=-1) * MM_PER_M
    if valid is None:
        return err
    ok = valid[:-2] & valid[1:-1] & valid[2:]
    return err[ok]


def accel_magnitude(x: Tensor) -> Tensor:
    """Mean acceleration magnitude per frame ``(N, J, 3)`` m → ``(N − 2,)`` mm/frame² (Figure 1)."""
    return acceleration(x).norm(dim=-1).mean(dim=-1) * MM_PER_M
