"""The paper's training loss (§3.4, eq. 6–9) on the temporal network's output.

``L = w_pose·L_pose + w_shape·L_shape + w_3d·L_3D + w_2d·L_2D (+ w_accel·L_accel)``, each a mean
squared error over the frames a batch weights (valid frames at the trained window positions):

* ``L_pose``: rotation matrices of all 24 joints (6D → Gram–Schmidt), as VIBE/TCMR do;
* ``L_shape``: β;
* ``L_3D``: joints from the predicted parameters, pelvis-aligned, against pelvis-aligned truth;
* ``L_2D``: the same joints projected with the predicted weak-perspective camera, against
  crop-normalised keypoints weighted by their confidence;
* ``L_accel`` (not in the paper; 0 by default): second differences of the aligned 3D joints;
* ``L_limbs`` (not in the paper; 0 by default): 1 − cos of the angle between predicted and true
  directions of the 8 limbs (:data:`SMPL_LIMBS`), the measure the side-by-side with mediapipe
  scores (evaluation.shared_joints); SMPL's 24 joints only.

:func:`served_loss` (not in the paper; off by default) looks at what a stream is served: with
``[train] served_run = R``, each sample is R windows shifted by one frame, and the served position
of each gives R consecutive frames of the output stream; their first and second differences
(aligned 3D joints) are compared with the truth's. A loss on one position per window cannot see
window-to-window jitter; this one can.

The paper states λ_SMPL = 300, λ_3D = 0.06, λ_2D = 60 and leaves λ_pose, λ_shape inside L_SMPL
unstated: the defaults put 300 on both. MPS-Net's release config uses 2D 300, 3D 300, shape 0.06,
pose 60 (docs/training.md). The paper applies the loss to the refined output only; ``coarse``
adds the same loss on the coarse output of g with that factor (0 = the paper).
"""

from __future__ import annotations

import numpy as np
import torch
from stmocap.evaluation.shared_joints import LIMBS, SMPL_SHARED
from stmocap.models.rotations import rotation_6d_to_matrix
from stmocap.models.temporal.network import SMPLParams6D, TemporalOutput
from stmocap.training.config import LOSS_TERMS, SERVED_TERMS, LossConfig
from stmocap.training.data import FrameTable
from stmocap.training.kinematics import JointModel, pelvis_align, project_weak_perspective
from torch import Tensor

TERMS = LOSS_TERMS + SERVED_TERMS
SMPL_LIMBS: tuple[tuple[int, int], ...] = tuple((SMPL_SHARED[i], SMPL_SHARED[j]) for _, i, j in LIMBS)
"""(from, to) SMPL joints of the upper arms, forearms, thighs and shins: evaluation.shared_joints'
LIMBS, the ones the side-by-side with mediapipe scores."""


def training_targets(table: FrameTable, joints: JointModel) -> FrameTable:
    """Make the table's truth fit the loss: 3D joints in the body model's joint set.

    ``joints3d`` is kept when it has the model's joint count; otherwise it is computed from the
    truth pose and shape when the table has them (e.g. 3DPW's 49 SPIN joints), else dropped. 2D
    keypoints in another joint set are dropped.
    """
    from dataclasses import replace

    J = joints.num_joints
    j3d = table.joints3d if table.joints3d is not None and table.joints3d.shape[1] == J else None
    if j3d is None and table.pose_6d is not None and table.betas is not None:
        with torch.no_grad():
            rot = rotation_6d_to_matrix(torch.from_numpy(table.pose_6d))
            j3d = joints(rot, torch.from_numpy(table.betas)).numpy()
    j2d = table.joints2d if table.joints2d is not None and table.joints2d.shape[1] == J else None
    return replace(table, joints3d=j3d, joints2d=j2d)


def batch_from_rows(table: FrameTable, rows: np.ndarray, device: str | torch.device = "cpu"
                    ) -> dict[str, Tensor]:
    """Gather windows ``rows (B, W)`` into tensors: inputs ``feats (B, W, *F)``, ``pose_6d
    (B, W, J·6)``, ``cam (B, W, 3)`` and, where the table has them, truth ``t_pose_6d (B, W, J, 6)``,
    ``t_betas``, ``t_joints3d (B, W, J, 3)``, ``t_joints2d (B, W, J, 3)``, ``valid (B, W)``."""
    out = {"feats": table.features[rows], "pose_6d": table.init_pose_6d[rows],
           "cam": table.init_cam[rows], "valid": table.valid[rows]}
    for name in ("pose_6d", "betas", "joints3d", "joints2d"):
        value = getattr(table, name)
        if value is not None:
            out[f"t_{name}"] = value[rows]
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in out.items()}


def _masked_mean(per_frame: Tensor, weight: Tensor) -> Tensor:
    return (per_frame * weight).sum() / weight.sum().clamp_min(1.0)


def limb_cosine_error(pred: Tensor, true: Tensor) -> Tensor:
    """Mean over the 8 :data:`SMPL_LIMBS` of 1 − cos(predicted, true limb direction): SMPL joints
    ``(..., 24, 3)`` twice → ``(...)``; 0 where every limb points the true way, 2 where opposite."""
    i = [a for a, _ in SMPL_LIMBS]
    j = [b for _, b in SMPL_LIMBS]
    a = torch.nn.functional.normalize(pred[..., j, :] - pred[..., i, :], dim=-1, eps=1e-9)
    b = torch.nn.functional.normalize(true[..., j, :] - true[..., i, :], dim=-1, eps=1e-9)
    return (1.0 - (a * b).sum(-1)).mean(-1)


def params_loss(params: SMPLParams6D, batch: dict[str, Tensor], weight: Tensor, joints: JointModel,
                cfg: LossConfig) -> dict[str, Tensor]:
    """Each term of the loss for one set of parameters; ``weight (B, W)`` per frame."""
    B, W = weight.shape
    terms: dict[str, Tensor] = {}
    rot = params.rotmat  # (B, W, J, 3, 3)
    if "t_pose_6d" in batch and cfg.pose:
        t_rot = rotation_6d_to_matrix(batch["t_pose_6d"])
        terms["pose"] = _masked_mean(((rot - t_rot) ** 2).mean(dim=(-1, -2, -3)), weight)
    if "t_betas" in batch and cfg.shape:
        terms["shape"] = _masked_mean(((params.betas - batch["t_betas"]) ** 2).mean(-1), weight)
    need_joints = ("t_joints3d" in batch and (cfg.joints3d or cfg.accel or cfg.limbs)) or (
        "t_joints2d" in batch and cfg.joints2d)
    if need_joints:
        pred = joints(rot.flatten(0, 1), params.betas.flatten(0, 1)).unflatten(0, (B, W))
        if "t_joints3d" in batch:
            p3, t3 = pelvis_align(pred), pelvis_align(batch["t_joints3d"])
            if cfg.joints3d:
                terms["joints3d"] = _masked_mean(((p3 - t3) ** 2).mean(dim=(-1, -2)), weight)
            if cfg.accel and W >= 3:
                acc = lambda x: x[:, :-2] - 2 * x[:, 1:-1] + x[:, 2:]  # noqa: E731
                ok = batch["valid"].float()
                w_acc = weight[:, 1:-1] * ok[:, :-2] * ok[:, 2:]
                terms["accel"] = _masked_mean(((acc(p3) - acc(t3)) ** 2).mean(dim=(-1, -2)), w_acc)
            if cfg.limbs and pred.shape[-2] == 24:
                terms["limbs"] = _masked_mean(limb_cosine_error(p3, t3), weight)
        if "t_joints2d" in batch and cfg.joints2d:
            t2 = batch["t_joints2d"]
            proj = project_weak_perspective(pred, params.cam)
            err = (t2[..., 2:3] * (proj - t2[..., :2]) ** 2).mean(dim=(-1, -2))
            terms["joints2d"] = _masked_mean(err, weight)
    return terms


def total_loss(out: TemporalOutput, batch: dict[str, Tensor], positions: Tensor, joints: JointModel,
               cfg: LossConfig) -> tuple[Tensor, dict[str, float]]:
    """Weighted loss of the refined (and, with ``cfg.coarse``, coarse) output.

    Args:
        positions: ``(W,)`` float, 1 at the window positions being trained, 0 elsewhere.

    Returns:
        The scalar loss and its unweighted terms (``refined/<term>``, ``coarse/<term>``) as floats.
    """
    weight = batch["valid"].float() * positions
    parts = [("refined", out.refined, 1.0)] + ([("coarse", out.coarse, cfg.coarse)] if cfg.coarse else [])
    loss = weight.new_zeros(())
    logged: dict[str, float] = {}
    for name, params, factor in parts:
        for term, value in params_loss(params, batch, weight, joints, cfg).items():
            loss = loss + factor * getattr(cfg, term) * value
            logged[f"{name}/{term}"] = float(value.detach())
    logged["loss"] = float(loss.detach())
    return loss, logged


def served_rows(rows: np.ndarray, window: int) -> np.ndarray:
    """``rows (B, W + R − 1)`` → ``(B·R, W)``: the R windows shifted by one frame, sample-major."""
    R = rows.shape[1] - window + 1
    if R < 1:
        raise ValueError(f"rows of {rows.shape[1]} frames hold no window of {window}")
    return np.stack([rows[:, r:r + window] for r in range(R)], axis=1).reshape(-1, window)


def served_loss(params: SMPLParams6D, batch: dict[str, Tensor], run: int, position: int,
                joints: JointModel, cfg: LossConfig) -> dict[str, Tensor]:
    """Velocity and acceleration error of the served stream.

    Args:
        params: the network's output for ``(B·R, W)`` windows, R consecutive ones per sample.
        batch: its batch (``t_joints3d``, ``valid`` of shape ``(B·R, W, …)``).
        run: R. position: the served window position (``W − 1 − L``).

    Returns:
        ``served_velocity`` (R ≥ 2) and ``served_accel`` (R ≥ 3) where their weights are non-zero:
        mean squared error (m², per joint coordinate) of the differences over the R served frames.
    """
    terms: dict[str, Tensor] = {}
    if "t_joints3d" not in batch or run < 2 or not (cfg.served_accel or cfg.served_velocity):
        return terms
    rot = params.rotmat[:, position]  # (B·R, J, 3, 3)
    pred = pelvis_align(joints(rot, params.betas[:, position])).unflatten(0, (-1, run))  # (B, R, J, 3)
    true = pelvis_align(batch["t_joints3d"][:, position]).unflatten(0, (-1, run))
    ok = batch["valid"][:, position].float().unflatten(0, (-1, run))  # (B, R)
    d_p, d_t, d_ok = pred.diff(dim=1), true.diff(dim=1), ok[:, 1:] * ok[:, :-1]
    if cfg.served_velocity:
        terms["served_velocity"] = _masked_mean(((d_p - d_t) ** 2).mean(dim=(-1, -2)), d_ok)
    if cfg.served_accel and run >= 3:
        a_ok = d_ok[:, 1:] * d_ok[:, :-1]
        terms["served_accel"] = _masked_mean(((d_p.diff(dim=1) - d_t.diff(dim=1)) ** 2).mean(dim=(-1, -2)),
                                             a_ok)
    return terms
