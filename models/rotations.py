"""Rotation representations as pure, batched, differentiable torch functions.

Conventions (used everywhere in stmocap):

* Axis-angle ``(..., 3)``: unit axis times angle in radians (SMPL's pose parameterisation).
* Matrix ``(..., 3, 3)``: acts on column vectors, ``x' = R @ x``.
* Quaternion ``(..., 4)``: ``(w, x, y, z)``, scalar first, unit norm; ``q`` and ``-q`` are the same
  rotation and :func:`matrix_to_quaternion` returns the one with ``w >= 0``.
* 6D ``(..., 6)``: the first two *columns* of the matrix, ``[R[:, 0], R[:, 1]]`` (Zhou et al. 2019,
  as HMR2.0 lays it out). Decoding uses Gram–Schmidt, so any 6-vector with two independent halves
  maps to a rotation.

All functions accept any leading batch shape and keep dtype and device.
"""

from __future__ import annotations

import torch
from torch import Tensor

_EPS = 1e-8


def _skew(v: Tensor) -> Tensor:
    """Cross-product matrix of ``v (..., 3)`` → ``(..., 3, 3)``."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """Rodrigues' formula: axis-angle ``(..., 3)`` → rotation matrix ``(..., 3, 3)``.

    Uses Taylor expansions near zero so values and gradients stay finite at the identity.
    """
    theta2 = (aa * aa).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = theta2 < 1e-6
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = torch.sqrt(theta2_safe)
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2_safe)
    K = _skew(aa)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Unit quaternion ``(..., 4)`` (w, x, y, z) → rotation matrix ``(..., 3, 3)``.

    The input is normalised first, so any non-zero 4-vector is accepted.
    """
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    w, x, y, z = q.unbind(-1)
    m = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )
    return m.reshape(*q.shape[:-1], 3, 3)


def matrix_to_quaternion(R: Tensor) -> Tensor:
    """Rotation matrix ``(..., 3, 3)`` → unit quaternion ``(..., 4)`` with ``w >= 0``.

    Builds the four candidate quaternions (one per largest diagonal term) and keeps the
    best-conditioned one, which is accurate for every angle including 180°.
    """
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # 4·|component|² for w, x, y, z.
    sq = torch.stack(
        [
            1 + m00 + m11 + m22,
            1 + m00 - m11 - m22,
            1 - m00 + m11 - m22,
            1 - m00 - m11 + m22,
        ],
        dim=-1,
    )
    # Each row is 4·q·q_k for the candidate k (w, x, y, z).
    cands = torch.stack(
        [
            torch.stack([sq[..., 0], m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, sq[..., 1], m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, sq[..., 2], m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, sq[..., 3]], dim=-1),
        ],
        dim=-2,
    )  # (..., 4, 4)
    best = sq.argmax(dim=-1, keepdim=True)  # (..., 1)
    denom = 2.0 * torch.sqrt(sq.clamp_min(_EPS))  # 4|q_k| / 2 = 2|q_k|
    q = cands / denom[..., None]
    q = torch.gather(q, -2, best[..., None].expand(*best.shape[:-1], 1, 4)).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    return standardize_quaternion(q)


def standardize_quaternion(q: Tensor) -> Tensor:
    """Return the representative of ``±q (..., 4)`` with non-negative scalar part."""
    return torch.where(q[..., :1] < 0, -q, q)


def axis_angle_to_quaternion(aa: Tensor) -> Tensor:
    """Axis-angle ``(..., 3)`` → unit quaternion ``(..., 4)`` (not standardised)."""
    theta2 = (aa * aa).sum(-1, keepdim=True)
    small = theta2 < 1e-6
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    half_sinc = torch.where(small, 0.5 - theta2 / 48.0, torch.sin(theta / 2) / theta)
    w = torch.where(small, 1.0 - theta2 / 8.0, torch.cos(theta / 2))
    return torch.cat([w, aa * half_sinc], dim=-1)


def quaternion_to_axis_angle(q: Tensor) -> Tensor:
    """Unit quaternion ``(..., 4)`` → axis-angle ``(..., 3)`` with angle in ``[0, π]``."""
    q = standardize_quaternion(q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS))
    w, v = q[..., :1], q[..., 1:]
    n = v.norm(dim=-1, keepdim=True)
    small = n < 1e-6
    n_safe = torch.where(small, torch.ones_like(n), n)
    half = torch.atan2(n_safe, w)
    # angle / sin(angle/2) = 2·half / n; near zero it tends to 2 / w.
    factor = torch.where(small, 2.0 / w.clamp_min(_EPS) * (1 + n * n / 6.0), 2.0 * half / n_safe)
    return v * factor


def matrix_to_axis_angle(R: Tensor) -> Tensor:
    """Rotation matrix ``(..., 3, 3)`` → axis-angle ``(..., 3)`` with angle in ``[0, π]``."""
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def rotation_6d_to_matrix(d6: Tensor) -> Tensor:
    """6D ``(..., 6)`` = two column vectors → rotation matrix ``(..., 3, 3)`` by Gram–Schmidt."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(R: Tensor) -> Tensor:
    """Rotation matrix ``(..., 3, 3)`` → 6D ``(..., 6)`` = ``[R[:, 0], R[:, 1]]``."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def axis_angle_to_rotation_6d(aa: Tensor) -> Tensor:
    """Axis-angle ``(..., 3)`` → 6D ``(..., 6)``."""
    return matrix_to_rotation_6d(axis_angle_to_matrix(aa))


def rotation_6d_to_axis_angle(d6: Tensor) -> Tensor:
    """6D ``(..., 6)`` → axis-angle ``(..., 3)``."""
    return matrix_to_axis_angle(rotation_6d_to_matrix(d6))


def project_to_so3(M: Tensor) -> Tensor:
    """Nearest rotation (Frobenius norm) to any ``(..., 3, 3)`` matrix, via SVD.

    ``R = U diag(1, 1, det(U Vᵀ)) Vᵀ`` so the result always has determinant +1 (a reflection is
    never returned). Used to average rotations: mean the matrices, then project.
    """
    U, _, Vh = torch.linalg.svd(M)
    det = torch.linalg.det(U @ Vh)
    ones = torch.ones_like(det)
    D = torch.diag_embed(torch.stack([ones, ones, torch.sign(det) + (det == 0)], dim=-1))
    return U @ D @ Vh


def geodesic_angle(R1: Tensor, R2: Tensor) -> Tensor:
    """Angle in radians ``(...)`` of the relative rotation ``R1ᵀ R2`` between ``(..., 3, 3)`` inputs."""
    rel = R1.transpose(-1, -2) @ R2
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    return torch.acos(cos)


def geodesic_interpolate(R0: Tensor, R1: Tensor, w: float | Tensor) -> Tensor:
    """The rotation ``w`` of the way along the geodesic from ``R0`` to ``R1`` (``(..., 3, 3)``):
    ``R0 · exp(w · log(R0ᵀ R1))``; ``w = 0`` gives ``R0``, ``1`` gives ``R1``, ``0.5`` the midpoint
    (the two rotations' mean on the manifold)."""
    return R0 @ axis_angle_to_matrix(w * matrix_to_axis_angle(R0.transpose(-1, -2) @ R1))
