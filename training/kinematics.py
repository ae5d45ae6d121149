"""Joints from SMPL parameters (joints only, no skinning) and the weak-perspective projection.

SMPL's joints are regressed from the *shaped* rest vertices, so they are linear in β:
``J(β) = J_template + β · J_dirs``; posing them is forward kinematics alone. That is what the
losses need per frame of every window, and it costs J×K instead of V×K per frame.
"""

from __future__ import annotations

import torch
from stmocap.models.body.lbs import forward_kinematics
from stmocap.models.body.model import BodyModel
from torch import Tensor, nn


class JointModel(nn.Module):
    """``rotmats (N, J, 3, 3)``, ``betas (N, K)`` → posed joints ``(N, J, 3)`` in metres.

    Built from a body model's buffers (``v_template``, ``shape_basis``, ``j_regressor``); the
    frame is the body model's, rotated by the root (camera frame for camera-frame roots).
    """

    def __init__(self, body: BodyModel) -> None:
        super().__init__()
        self.parents = list(body.parents)
        jreg = body.j_regressor
        V = body.v_template.shape[0]
        self.register_buffer("j_template", jreg @ body.v_template)  # (J, 3)
        dirs = body.shape_basis.reshape(-1, V, 3)  # (K, V, 3)
        self.register_buffer("j_dirs", torch.einsum("jv,kvc->kjc", jreg, dirs))  # (K, J, 3)

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    def forward(self, rotmats: Tensor, betas: Tensor) -> Tensor:
        K = betas.shape[-1]
        rest = self.j_template + torch.einsum("nk,kjc->njc", betas, self.j_dirs[:K])
        joints, _ = forward_kinematics(rotmats, rest, self.parents)
        return joints


def project_weak_perspective(joints: Tensor, cam: Tensor) -> Tensor:
    """``joints (..., J, 3)``, ``cam (..., 3)`` = ``[s, tx, ty]`` → crop-normalised ``(..., J, 2)``.

    ``x = s · (X + tx)``, ``y = s · (Y + ty)``: the camera of the person crop, x right, y down, in
    the [-1, 1] units of :func:`stmocap.training.data.normalise_keypoints`.
    """
    return cam[..., None, :1] * (joints[..., :2] + cam[..., None, 1:3])


def pelvis_align(joints: Tensor, hips: tuple[int, int] = (1, 2)) -> Tensor:
    """Subtract the mean of the two hip joints (SMPL: 1 and 2) from ``joints (..., J, 3)``."""
    return joints - joints[..., list(hips), :].mean(dim=-2, keepdim=True)
