"""Inverse kinematics from 3D joint targets to SMPL pose and shape, and the weak-perspective camera.

Frames: targets are in the camera's orientation (x right, y down, z away), metres, any origin
(BlazePose world landmarks are hip-centred); the solved root rotation is therefore SMPL's global
orientation in the camera frame, as the per-frame models of the paper profile report it.

Two steps. :meth:`IKSolver.analytic` builds a pose by swinging each bone onto its target direction
down the kinematic tree (the torso from the hips and shoulders; no twist). :meth:`IKSolver.refine`
then runs a few L-BFGS steps on joint positions over rotations, shape β and an offset, with a
small pose prior (it keeps unobservable twists at zero) and hinge limits for knees and elbows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from stmocap.models.body.lbs import forward_kinematics
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from torch import Tensor

# (joint, child that sets its bone direction) for the swing initialisation, parents first.
SWING = ((1, 4), (2, 5), (4, 7), (5, 8), (7, 10), (8, 11), (12, 15), (16, 18), (17, 19),
         (18, 20), (19, 21), (20, 22), (21, 23))
# Hinge joints: (joint, axis index of flexion, sign of allowed flexion).
HINGES = ((4, 0, 1.0), (5, 0, 1.0), (18, 1, -1.0), (19, 1, 1.0))
L_HIP, R_HIP, L_SHOULDER, R_SHOULDER = 1, 2, 16, 17


@dataclass(frozen=True)
class IKConfig:
    """Weights and iteration counts of the refinement."""

    iterations: int = field(default=15, metadata={"help": "L-BFGS iterations per solve"})
    fit_shape: bool = field(default=True, metadata={"help": "fit β from bone lengths"})
    pose_prior: float = field(default=1e-2, metadata={"help": "weight of ‖θ‖² (body joints)"})
    shape_prior: float = field(default=1e-2, metadata={"help": "weight of ‖β‖²"})
    hinge_weight: float = field(default=1.0, metadata={"help": "weight of knee/elbow limits"})
    aim: float = field(default=0.5, metadata={
        "help": "closed form (iterations 0): weight of BlazePose's bone directions against aiming "
                "each bone from the chain's joint at its child's landmark (1 keeps the directions "
                "exactly; 0 aims at positions)"})


@dataclass(frozen=True)
class IKResult:
    """``rotmats (B, 24, 3, 3)``, ``betas (B, K)``, posed ``joints (B, 24, 3)`` in the targets' frame
    (root-relative joints + ``offset (B, 3)``)."""

    rotmats: Tensor
    betas: Tensor
    joints: Tensor
    offset: Tensor


class Skeleton:
    """Joint rest positions as a linear function of β: ``J(β) = J₀ + Σ_k β_k S_k``."""

    def __init__(self, data: BodyModelData, dtype: torch.dtype = torch.float32) -> None:
        jr = data.j_regressor
        self.rest = torch.as_tensor(jr @ data.v_template, dtype=dtype)  # (J, 3)
        self.shape_basis = torch.as_tensor(np.einsum("jv,vck->jck", jr, data.shapedirs), dtype=dtype)
        self.parents = [int(p) for p in data.parents]
        self.num_betas = self.shape_basis.shape[-1]

    def joints(self, betas: Tensor) -> Tensor:
        """Rest joints ``(B, J, 3)`` for ``betas (B, K)``."""
        return self.rest + torch.einsum("jck,bk->bjc", self.shape_basis[..., : betas.shape[-1]], betas)


def _frame(left: Tensor, up: Tensor) -> Tensor:
    """Rotation whose columns are the body's left, up and forward axes ``(B, 3, 3)``."""
    x = torch.nn.functional.normalize(left, dim=-1)
    y = up - (up * x).sum(-1, keepdim=True) * x
    y = torch.nn.functional.normalize(y, dim=-1)
    return torch.stack([x, y, torch.linalg.cross(x, y, dim=-1)], dim=-1)


def _torso(j: Tensor) -> Tensor:
    left = (j[:, L_HIP] - j[:, R_HIP]) + (j[:, L_SHOULDER] - j[:, R_SHOULDER])
    up = (j[:, L_SHOULDER] + j[:, R_SHOULDER] - j[:, L_HIP] - j[:, R_HIP]) / 2
    return _frame(left, up)


def _align(a: Tensor, b: Tensor) -> Tensor:
    """Smallest rotation taking direction ``a`` onto ``b`` (both ``(B, 3)``)."""
    a = torch.nn.functional.normalize(a, dim=-1)
    b = torch.nn.functional.normalize(b, dim=-1)
    axis = torch.linalg.cross(a, b, dim=-1)
    s = axis.norm(dim=-1, keepdim=True)
    c = (a * b).sum(-1, keepdim=True)
    angle = torch.atan2(s, c)
    return axis_angle_to_matrix(axis / s.clamp_min(1e-9) * angle)


class IKSolver:
    """Solve SMPL rotations and shape for joint targets (see the module docstring)."""

    def __init__(self, data: BodyModelData, config: IKConfig | None = None) -> None:
        self.skeleton = Skeleton(data)
        self.config = config or IKConfig()
        self.rest_torso = _torso(self.skeleton.rest[None])[0]

    def analytic(self, targets: Tensor, rest: Tensor | None = None) -> Tensor:
        """Swing initialisation: ``targets (B, 24, 3)`` → local rotations ``(B, 24, 3, 3)``."""
        B = targets.shape[0]
        rest = self.skeleton.rest.expand(B, -1, -1) if rest is None else rest
        parents = self.skeleton.parents
        R = torch.eye(3, dtype=targets.dtype).repeat(B, 24, 1, 1)
        world = [None] * 24
        R[:, 0] = _torso(targets) @ self.rest_torso.T
        world[0] = R[:, 0]
        swing = dict(SWING)
        for j in range(1, 24):
            G_parent = world[parents[j]]
            if j in swing:
                c = swing[j]
                bone = (G_parent @ (rest[:, c] - rest[:, j])[..., None])[..., 0]
                Q = _align(bone, targets[:, c] - targets[:, j])
                R[:, j] = G_parent.transpose(-1, -2) @ Q @ G_parent
            world[j] = G_parent @ R[:, j]
        return R

    def _pose_joints(self, rotmats: Tensor, betas: Tensor) -> Tensor:
        posed, _ = forward_kinematics(rotmats, self.skeleton.joints(betas), self.skeleton.parents)
        return posed - posed[:, :1]

    def refine(self, rotmats: Tensor, betas: Tensor, targets: Tensor, weights: Tensor,
               iterations: int | None = None) -> IKResult:
        cfg = self.config
        root6 = matrix_to_rotation_6d(rotmats[:, 0]).clone().requires_grad_(True)
        body = matrix_to_axis_angle(rotmats[:, 1:]).clone().requires_grad_(True)
        beta = betas.clone().requires_grad_(cfg.fit_shape)
        w = weights[..., None]
        with torch.no_grad():
            j0 = self._pose_joints(rotmats, betas)
            offset = ((targets - j0) * w).sum(1) / w.sum(1).clamp_min(1e-9)
        offset = offset.clone().requires_grad_(True)
        params = [root6, body, offset] + ([beta] if cfg.fit_shape else [])
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iterations or cfg.iterations,
                                line_search_fn="strong_wolfe",
                                tolerance_grad=1e-9, tolerance_change=1e-12, history_size=20)
        hinge_idx = [j - 1 for j, _, _ in HINGES]
        flex = torch.zeros(len(HINGES), 3, dtype=targets.dtype)  # the allowed-flexion axis, signed
        for k, (_, axis, sign) in enumerate(HINGES):
            flex[k, axis] = sign
        off_axis = (flex == 0).to(targets.dtype)

        def loss_fn() -> Tensor:
            R = torch.cat([rotation_6d_to_matrix(root6)[:, None], axis_angle_to_matrix(body)], 1)
            j = self._pose_joints(R, beta) + offset[:, None]
            # In cm² so L-BFGS's tolerances are not reached by the scale of metres alone.
            loss = 1e4 * ((j - targets) ** 2 * w).sum() / w.sum().clamp_min(1e-9)
            loss = loss + cfg.pose_prior * (body ** 2).sum() / body.shape[0]
            loss = loss + cfg.shape_prior * (beta ** 2).sum() / beta.shape[0]
            # Hinges bend about one axis, one way: other axes and the wrong way cost.
            h = body[:, hinge_idx]  # (B, 4, 3)
            penalty = (h ** 2 * off_axis).sum() + torch.relu(-(h * flex).sum(-1)).pow(2).sum()
            return loss + cfg.hinge_weight * penalty / body.shape[0]

        def closure() -> Tensor:
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            R = torch.cat([rotation_6d_to_matrix(root6)[:, None], axis_angle_to_matrix(body)], 1)
            joints = self._pose_joints(R, beta) + offset[:, None]
        return IKResult(R.detach(), beta.detach(), joints, offset.detach())

    def model_joints(self, result: IKResult) -> Tensor:
        """Posed joints ``(B, 24, 3)`` in the body model's own output frame (root at its rest
        position, no translation): what the body model returns for these parameters."""
        rest = self.skeleton.joints(result.betas)
        posed, _ = forward_kinematics(result.rotmats, rest, self.skeleton.parents)
        return posed

    def __call__(self, targets: Tensor, weights: Tensor, init: IKResult | None = None,
                 iterations: int | None = None, betas: Tensor | None = None) -> IKResult:
        """Solve ``targets (B, 24, 3)`` with per-joint ``weights (B, 24)`` (0 = no target); ``init``
        (e.g. the previous frame) replaces the analytic start; ``iterations`` overrides the config;
        ``betas (B, K)`` the shape to start from without ``init`` (default: the mean body)."""
        B = targets.shape[0]
        if init is not None:
            betas = init.betas
        elif betas is None:
            betas = torch.zeros(B, self.skeleton.num_betas)
        rotmats = init.rotmats if init is not None else self.analytic(targets)
        return self.refine(rotmats, betas, targets, weights, iterations)


def fit_weak_perspective(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weak-perspective camera ``[s, tx, ty]`` with ``pixels ≈ s · (points_xy + t)``.

    ``points (J, 3)`` camera-oriented, root-relative; ``pixels (J, 2)`` in the crop's [-1, 1]
    coordinates; ``weights (J,)``. Closed-form weighted least squares.
    """
    w = weights / max(weights.sum(), 1e-9)
    p = points[:, :2]
    pm = (w[:, None] * p).sum(0)
    um = (w[:, None] * pixels).sum(0)
    dp, du = p - pm, pixels - um
    s = float((w[:, None] * dp * du).sum() / max((w[:, None] * dp * dp).sum(), 1e-12))
    s = max(s, 1e-6)
    t = um / s - pm
    return np.array([s, t[0], t[1]], np.float32)
