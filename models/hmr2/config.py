"""Sizes of HMR2.0 (4D-Humans): a ViT backbone and a transformer-decoder SMPL head.

``full`` is the released network (ViT-H/16 on 256×192 crops, 6-layer decoder head). ``tiny`` keeps
every structural choice but narrows all widths and the image (64×48) so tests run in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

JointRep = Literal["6d"]


@dataclass(frozen=True)
class HMR2Config:
    """Layer sizes of :class:`stmocap.models.hmr2.model.HMR2`.

    The network sees ``(B, 3, image_height, image_width)`` crops; the preprocessing cuts them as
    ``crop_size × crop_size`` squares and keeps the middle ``image_width`` columns
    (:mod:`stmocap.models.hmr2.preprocess`).
    """

    image_height: int = 256
    image_width: int = 192
    crop_size: int = 256  # side of the square crop before the column slice (upstream IMAGE_SIZE)
    patch: int = 16
    patch_padding: int = 2  # upstream's patch conv pads by 2 (same 16×12 grid as 0, other features)
    width: int = 1280
    depth: int = 32
    heads: int = 16
    mlp_ratio: float = 4.0
    backbone_ln_eps: float = 1e-6
    decoder_depth: int = 6
    decoder_width: int = 1024
    decoder_heads: int = 8
    decoder_head_dim: int = 64
    decoder_mlp: int = 1024
    decoder_ln_eps: float = 1e-5
    token_dim: int = 1  # the decoder's single input token is zeros of this size
    ief_iterations: int = 1
    joint_rep: JointRep = "6d"
    body_joints: int = 23
    betas: int = 10
    focal_length: float = 5000.0  # training focal for a crop_size-pixel crop (for pred_cam_t)

    def __post_init__(self) -> None:
        for name in ("image_height", "image_width", "crop_size", "patch", "width", "depth", "heads",
                     "decoder_depth", "decoder_width", "decoder_heads", "decoder_head_dim",
                     "decoder_mlp", "token_dim", "ief_iterations", "body_joints", "betas"):
            if getattr(self, name) < 1:
                raise ValueError(f"HMR2Config.{name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        if self.image_height != self.crop_size or self.image_width > self.crop_size or \
                (self.crop_size - self.image_width) % 2:
            raise ValueError(f"image {self.image_height}×{self.image_width} must be the middle columns "
                             f"of the {self.crop_size}-px square crop")
        if self.joint_rep != "6d":
            raise ValueError(f"joint_rep {self.joint_rep!r} is not supported (upstream: only '6d')")
        if self.decoder_heads == 1 and self.decoder_head_dim == self.decoder_width:
            # Upstream then drops the attention output projection; stmocap always has one.
            raise ValueError("decoder_heads=1 with decoder_head_dim=decoder_width is not supported")

    @property
    def grid(self) -> tuple[int, int]:
        """Token grid ``(rows, cols)`` of the backbone (16×12 for ``full``)."""
        def out(n: int) -> int:
            return (n + 2 * self.patch_padding - self.patch) // self.patch + 1
        return out(self.image_height), out(self.image_width)

    @property
    def crop_margin(self) -> int:
        """Columns cut from each side of the square crop (32 for ``full``)."""
        return (self.crop_size - self.image_width) // 2

    @property
    def joints(self) -> int:
        """SMPL joints including the root (24)."""
        return self.body_joints + 1

    @property
    def pose_dim(self) -> int:
        """Width of the pose vector the head regresses (24 × 6 = 144)."""
        return 6 * self.joints


FULL = HMR2Config()
TINY = replace(FULL, image_height=64, image_width=48, crop_size=64, width=64, depth=2, heads=2,
               decoder_depth=1, decoder_width=64, decoder_heads=2, decoder_head_dim=16,
               decoder_mlp=64)
PRESETS: dict[str, HMR2Config] = {"full": FULL, "tiny": TINY}
