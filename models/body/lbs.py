"""Linear blend skinning in SMPL's formulation, as pure torch functions.

Frames: everything is in the body model's frame (SMPL: metres, y up, facing +z). Rotations are
local (relative to the parent joint), root first, as rotation matrices ``(B, J, 3, 3)``.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor


def shape_vertices(v_template: Tensor, shape_basis: Tensor, betas: Tensor) -> Tensor:
    """Rest-pose vertices for shape ``betas (B, K)`` → ``(B, V, 3)``.

    ``shape_basis (K_max, V·3)`` is SMPL's ``shapedirs (V, 3, K_max)`` laid out as one row per
    coefficient (see :func:`basis_rows`), so the blend is one matrix product.
    """
    K = betas.shape[-1]
    return v_template + (betas @ shape_basis[:K]).unflatten(-1, v_template.shape)


def basis_rows(dirs: Tensor) -> Tensor:
    """SMPL's ``(V, 3, K)`` blend-shape array → ``(K, V·3)`` rows (shape or pose basis)."""
    return dirs.flatten(0, 1).T.contiguous()


def regress_joints(j_regressor: Tensor, vertices: Tensor) -> Tensor:
    """Joint centres ``(J, V) @ (B, V, 3)`` → ``(B, J, 3)``."""
    return torch.einsum("jv,bvc->bjc", j_regressor, vertices)


def pose_correctives(pose_basis: Tensor, rotmats: Tensor) -> Tensor:
    """SMPL's pose-dependent offsets ``(B, V·3)`` from ``pose_basis (9(J−1), V·3)``.

    The features are ``(R_j − I)`` of the non-root joints, flattened row-major.
    """
    B = rotmats.shape[0]
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
    feat = (rotmats[:, 1:] - eye).reshape(B, -1)
    return feat @ pose_basis


@functools.lru_cache(maxsize=8)
def _tree_levels(parents: tuple[int, ...]) -> list[tuple[list[int], list[int]]]:
    """Joints grouped by depth below the root, with their parents: ``[(joints, parents), ...]``."""
    depth = [0] * len(parents)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    return [([j for j in range(len(parents)) if depth[j] == d],
             [parents[j] for j in range(len(parents)) if depth[j] == d]) for d in range(1, max(depth) + 1)]


def forward_kinematics(rotmats: Tensor, joints: Tensor, parents: list[int]) -> tuple[Tensor, Tensor]:
    """Chain local rotations along the kinematic tree.

    Args:
        rotmats: ``(B, J, 3, 3)`` local rotations.
        joints: ``(B, J, 3)`` rest-pose joint centres.
        parents: parent index per joint (``-1`` for the root); parents precede children.

    Returns:
        ``posed_joints (B, J, 3)`` and ``skinning transforms (B, J, 4, 4)`` that map rest-pose
        points to posed points for each joint (``G_j · [I, −j_rest]``).
    """
    B, J = joints.shape[:2]
    rel = joints.clone()
    rel[:, 1:] = joints[:, 1:] - joints[:, parents[1:]]
    local = torch.zeros(B, J, 4, 4, dtype=rotmats.dtype, device=rotmats.device)
    local[..., :3, :3] = rotmats
    local[..., :3, 3] = rel
    local[..., 3, 3] = 1.0
    # One batched matmul per tree depth (SMPL: 8) instead of one per joint (23): fewer small ops,
    # which is what the IK's forward and backward passes cost on a CPU.
    world = local.clone()
    for joints_at, parents_at in _tree_levels(tuple(parents)):
        world[:, joints_at] = world[:, parents_at] @ local[:, joints_at]  # (B, J, 4, 4)
    posed = world[..., :3, 3]
    skin = world.clone()
    skin[..., :3, 3] = posed - (world[..., :3, :3] @ joints[..., None])[..., 0]
    return posed, skin


def skin_vertices(vertices: Tensor, weights: Tensor, transforms: Tensor) -> Tensor:
    """Blend per-joint transforms ``(B, J, 4, 4)`` with ``weights (V, J)`` and apply to ``(B, V, 3)``."""
    T = torch.einsum("vj,bjrc->bvrc", weights, transforms)
    return (T[..., :3, :3] @ vertices[..., None])[..., 0] + T[..., :3, 3]
