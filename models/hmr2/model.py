"""HMR2.0 as one module: normalised person crops → SMPL rotations, shape and crop camera."""

from __future__ import annotations

from dataclasses import dataclass

from stmocap.models.hmr2.config import FULL, HMR2Config
from stmocap.models.hmr2.head import SMPLHead
from stmocap.models.hmr2.vit import ViTBackbone
from stmocap.models.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
from torch import Tensor, nn


@dataclass(frozen=True)
class HMR2Output:
    """What HMR2.0 predicts for ``B`` crops.

    * ``rotmats (B, 24, 3, 3)``: SMPL joint rotations acting on column vectors, root (global
      orientation, in the camera frame: x right, y down, z forward) first, then the 23 body joints
      relative to their parents.
    * ``betas (B, 10)``: SMPL shape coefficients.
    * ``cam (B, 3)``: weak-perspective ``[s, tx, ty]`` of the square crop (upstream ``pred_cam``);
      place it in the image with :func:`stmocap.models.camera.crop.crop_cam_to_translation`.
    * ``pose_6d (B, 24, 6)``: ``rotmats`` in stmocap's 6D convention
      (:func:`stmocap.models.rotations.matrix_to_rotation_6d`).
    * ``features (B, width, rows, cols)``: backbone feature map (``None`` unless asked for).
    """

    rotmats: Tensor
    betas: Tensor
    cam: Tensor
    pose_6d: Tensor
    features: Tensor | None = None

    def as_tuple(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(rotmats, betas, cam)``: the export's output order."""
        return self.rotmats, self.betas, self.cam


class HMR2(nn.Module):
    """``images (B, 3, H, W)`` → :class:`HMR2Output`.

    ``images`` are ImageNet-normalised RGB crops of ``cfg.image_height × cfg.image_width``
    (256×192): the middle columns of the square crops of
    :func:`stmocap.models.hmr2.preprocess.crop_people`.
    """

    def __init__(self, cfg: HMR2Config = FULL) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = ViTBackbone(cfg)
        self.head = SMPLHead(cfg)

    def forward(self, images: Tensor, return_features: bool = False) -> HMR2Output:
        c = self.cfg
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, c.image_height, c.image_width):
            raise ValueError(f"HMR2 expects images (B, 3, {c.image_height}, {c.image_width}), got "
                             f"{tuple(images.shape)}")
        features = self.backbone(images)
        pose, betas, cam = self.head(features)
        rotmats = rotation_6d_to_matrix(pose.reshape(-1, c.joints, 6))
        return HMR2Output(rotmats, betas, cam, matrix_to_rotation_6d(rotmats),
                          features if return_features else None)
