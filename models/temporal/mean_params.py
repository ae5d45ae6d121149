"""Mean SMPL parameters that start the iterative regressor (pose in 6D, β, weak-perspective camera).

SPIN, MPS-Net and HMR2.0 start from ``smpl_mean_params.npz`` (keys ``pose`` (144,), ``shape``
(10,), ``cam`` (3,)), a file distributed with SPIN's data that we cannot download here. Without it
we start from a neutral guess: the body upright and facing the camera in the camera frame
(x right, y down, z forward — a rotation of π about x, as SMPL's own frame is y-up), every joint at
rest, β = 0 and camera ``[s, tx, ty] = [0.9, 0, 0]`` (a person filling most of the crop).
Training learns around whichever start is used; a checkpoint stores the start it was trained with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_rotation_6d
from torch import Tensor

Layout6D = Literal["spin", "columns"]


@dataclass(frozen=True)
class MeanParams:
    """Initial parameters: ``pose_6d (J, 6)`` in our column layout, ``betas (B,)``, ``cam (3,)``."""

    pose_6d: Tensor
    betas: Tensor
    cam: Tensor

    def flat(self) -> Tensor:
        """``(J·6 + B + 3,)`` = pose ‖ β ‖ camera, the layout the regressor iterates on."""
        return torch.cat([self.pose_6d.reshape(-1), self.betas, self.cam])


def neutral_mean_params(joints: int = 24, betas: int = 10) -> MeanParams:
    """Upright, facing the camera, rest pose, β = 0, camera [0.9, 0, 0] (see module docstring)."""
    aa = torch.zeros(joints, 3, dtype=torch.float64)
    aa[0, 0] = math.pi
    pose = matrix_to_rotation_6d(axis_angle_to_matrix(aa)).float()
    return MeanParams(pose, torch.zeros(betas), torch.tensor([0.9, 0.0, 0.0]))


def spin_6d_to_columns(pose: Tensor) -> Tensor:
    """Reorder 6D vectors from SPIN's interleaved layout ``(…, 6)`` to ours.

    SPIN reads a 6-vector as a 3×2 matrix in row-major order (columns ``a1 = x[0::2]``,
    ``a2 = x[1::2]``); ours stores the two columns one after the other.
    """
    return torch.cat([pose[..., 0::2], pose[..., 1::2]], dim=-1)


def load_mean_params(path: Path, layout: Layout6D = "spin", joints: int = 24,
                     betas: int = 10) -> MeanParams:
    """Read a ``smpl_mean_params.npz`` (keys ``pose``, ``shape``, ``cam``).

    Args:
        path: the ``.npz`` file.
        layout: ``spin`` for SPIN's interleaved 6D (the file SPIN, MPS-Net and HMR2.0 ship) or
            ``columns`` for ours.
    """
    try:
        data = np.load(path)
        pose = torch.as_tensor(np.asarray(data["pose"], dtype=np.float32)).reshape(-1)
        shape = torch.as_tensor(np.asarray(data["shape"], dtype=np.float32)).reshape(-1)
        cam = torch.as_tensor(np.asarray(data["cam"], dtype=np.float32)).reshape(-1)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"{path} is not a mean-parameter file (npz with pose (144,), shape (10,), cam (3,)): {exc}"
        ) from exc
    if pose.numel() != joints * 6 or shape.numel() < betas or cam.numel() != 3:
        raise ValueError(f"{path}: expected pose ({joints * 6},), shape (>={betas},), cam (3,); got "
                         f"{tuple(pose.shape)}, {tuple(shape.shape)}, {tuple(cam.shape)}")
    pose = pose.reshape(joints, 6)
    if layout == "spin":
        pose = spin_6d_to_columns(pose)
    return MeanParams(pose, shape[:betas], cam)
