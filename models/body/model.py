"""One body-model interface, two implementations: our own LBS and the ``smplx`` reference.

Both take SMPL parameters as rotation matrices and return vertices and the 24 joints:
``rotmats (B, 24, 3, 3)`` (root = global orientation, then 23 body joints, local),
``betas (B, K)``, ``transl (B, 3)`` → :class:`BodyOutput`. Output frame: the model's (SMPL:
metres, y up, facing +z) rotated by the root and shifted by ``transl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from stmocap.models.body.lbs import (
    basis_rows,
    forward_kinematics,
    pose_correctives,
    regress_joints,
    shape_vertices,
    skin_vertices,
)
from stmocap.models.body.smpl_file import BodyModelData
from torch import Tensor, nn

from stmocap.optional import require

Backend = Literal["auto", "lbs", "smplx"]


@dataclass(frozen=True)
class BodyOutput:
    """Posed body.

    Attributes:
        vertices: ``(B, V, 3)`` (V = 6890 for SMPL).
        joints: ``(B, J, 3)`` the model's own joints (J = 24 for SMPL), after posing.
    """

    vertices: Tensor
    joints: Tensor


class BodyModel(nn.Module):
    """Common interface: ``forward(rotmats, betas, transl=None) -> BodyOutput`` plus mesh facts."""

    def __init__(self, data: BodyModelData) -> None:
        super().__init__()
        self.data_source = data.source
        self.faces: np.ndarray = data.faces
        self.parents: list[int] = [int(p) for p in data.parents]
        self.num_betas: int = int(data.shapedirs.shape[-1])
        self.num_vertices: int = data.num_vertices

    def _check(self, rotmats: Tensor, betas: Tensor) -> None:
        J = len(self.parents)
        if rotmats.ndim != 4 or rotmats.shape[1:] != (J, 3, 3):
            raise ValueError(f"rotmats must be (B, {J}, 3, 3), got {tuple(rotmats.shape)}")
        if betas.shape[0] != rotmats.shape[0] or betas.shape[-1] > self.num_betas:
            raise ValueError(f"betas must be (B, <= {self.num_betas}), got {tuple(betas.shape)}")


class LBSBody(BodyModel):
    """SMPL's linear blend skinning on any model in SMPL's file format (no smplx needed)."""

    def __init__(self, data: BodyModelData, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(data)

        def buf(x: np.ndarray) -> Tensor:
            return torch.as_tensor(x, dtype=dtype)

        self.register_buffer("v_template", buf(data.v_template))
        self.register_buffer("shape_basis", basis_rows(buf(data.shapedirs)))
        # Models without pose correctives (the free body) store zeros: skip that matmul.
        self.has_correctives = bool(np.any(data.posedirs))
        self.register_buffer("pose_basis", basis_rows(buf(data.posedirs)) if self.has_correctives
                             else torch.zeros(0, dtype=dtype))
        self.register_buffer("j_regressor", buf(data.j_regressor))
        self.register_buffer("weights", buf(data.weights))

    def forward(self, rotmats: Tensor, betas: Tensor, transl: Tensor | None = None) -> BodyOutput:
        self._check(rotmats, betas)
        v_shaped = shape_vertices(self.v_template, self.shape_basis, betas)
        rest_joints = regress_joints(self.j_regressor, v_shaped)
        v_posed = v_shaped
        if self.has_correctives:
            v_posed = v_shaped + pose_correctives(self.pose_basis, rotmats).unflatten(-1, v_shaped.shape[1:])
        joints, transforms = forward_kinematics(rotmats, rest_joints, self.parents)
        verts = skin_vertices(v_posed, self.weights, transforms)
        if transl is not None:
            verts = verts + transl[:, None]
            joints = joints + transl[:, None]
        return BodyOutput(vertices=verts, joints=joints)


class SmplxBody(BodyModel):
    """The same interface through ``smplx.SMPL`` (reference implementation; non-commercial licence)."""

    def __init__(self, data: BodyModelData, dtype: torch.dtype = torch.float32) -> None:
        smplx = require("smplx", "smpl")
        from smplx.utils import Struct

        super().__init__(data)
        self.smpl = smplx.SMPL(model_path="", data_struct=Struct(**data.as_smpl_dict()),
                               num_betas=self.num_betas, dtype=dtype)

    def forward(self, rotmats: Tensor, betas: Tensor, transl: Tensor | None = None) -> BodyOutput:
        self._check(rotmats, betas)
        B = rotmats.shape[0]
        if betas.shape[-1] < self.num_betas:
            betas = torch.cat([betas, betas.new_zeros(B, self.num_betas - betas.shape[-1])], -1)
        out = self.smpl(global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:], betas=betas,
                        transl=transl, pose2rot=False)
        return BodyOutput(vertices=out.vertices, joints=out.joints[:, : len(self.parents)])


def load_body_model(path: Path | str | None = None, backend: Backend = "auto", gender: str = "neutral",
                    dtype: torch.dtype = torch.float32) -> BodyModel:
    """Load an SMPL-format model (file or folder; ``None`` or ``"free"``: the built-in free body)
    with ``lbs`` (ours), ``smplx`` or ``auto``.

    ``auto`` uses our LBS: it needs nothing beyond torch and matches smplx (tested).
    """
    from stmocap.models.body.free_body import load_body_data

    data = load_body_data(path, gender)
    if backend == "smplx":
        return SmplxBody(data, dtype)
    return LBSBody(data, dtype)
