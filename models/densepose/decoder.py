"""DensePose's decoder: a Panoptic-FPN semantic head that merges p2..p5 into one stride-4 map.

Each level ``l`` with stride ``s`` gets ``max(1, log2(s / 4))`` blocks of 3×3 conv (+ GroupNorm if
configured) + ReLU, each block followed by a ×2 bilinear upsampling (``align_corners=False``)
unless the level already is at stride 4; the per-level results are summed and a 1×1 conv (with
bias) gives the output. Parameter paths follow detectron2: ``p2.0.*``, ``p3.0.*``, ``p4.0.*``,
``p4.2.*``, ``p5.{0,2,4}.*`` (odd indices are the parameter-free upsamplers), ``predictor.*``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from stmocap.models.densepose.config import CSEHeadConfig
from stmocap.models.densepose.layers import ConvNorm
from torch import Tensor, nn


class _Upsample2x(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class _ConvReLU(ConvNorm):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(super().forward(x))


class CSEDecoder(nn.Module):
    """FPN levels ``[(B, C, H/s, W/s)]`` (``cfg.in_features`` order) → ``(B, decoder_out, H/4, W/4)``.

    ``H`` and ``W`` are the padded network-input size (multiples of the coarsest stride), so every
    level upsamples to exactly the stride-4 grid.
    """

    def __init__(self, cfg: CSEHeadConfig) -> None:
        super().__init__()
        self.levels = tuple(cfg.in_features)
        dims = cfg.decoder_channels
        for name, stride in zip(cfg.in_features, cfg.in_strides, strict=True):
            steps = max(1, int(math.log2(stride // cfg.decoder_stride)))
            blocks: list[nn.Module] = []
            for k in range(steps):
                blocks.append(_ConvReLU(cfg.in_channels if k == 0 else dims, dims, 3, cfg.decoder_norm,
                                        padding=1))
                if stride != cfg.decoder_stride:
                    blocks.append(_Upsample2x())
            self.add_module(name, nn.Sequential(*blocks))
        self.predictor = nn.Conv2d(dims, cfg.decoder_out, 1)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        if len(features) != len(self.levels):
            raise ValueError(f"decoder needs {len(self.levels)} levels {self.levels}, got {len(features)}")
        total = None
        for name, x in zip(self.levels, features, strict=True):
            y = getattr(self, name)(x)
            total = y if total is None else total + y
        return self.predictor(total)
