"""The CSE predictor: per-pixel surface embeddings and coarse segmentation from head features.

Two stride-2 transposed convs (kernel k, padding k/2 − 1: 28 → 56) followed by bilinear up-scaling
(``align_corners=False``, ×2: 56 → 112). Parameter paths follow detectron2 (``embed_lowres``,
``coarse_segm_lowres``).
"""

from __future__ import annotations

import torch.nn.functional as F
from stmocap.models.densepose.config import CSEHeadConfig
from torch import Tensor, nn


class CSEPredictor(nn.Module):
    """``(K, head_dim, R, R)`` → ``embedding (K, D, 4R, 4R)``, ``coarse_segm (K, S, 4R, 4R)``.

    Outputs are box-relative: the 4R×4R grid spans the box, top-left first (detectron2 resizes it
    bilinearly to the box's size in pixels and places it at the box's top-left corner). Coarse
    segmentation channel 0 is the background; the embedding is not normalised (the vertex
    embeddings are).
    """

    def __init__(self, cfg: CSEHeadConfig) -> None:
        super().__init__()
        k = cfg.deconv_kernel
        self.scale = float(cfg.up_scale)
        self.coarse_segm_lowres = nn.ConvTranspose2d(cfg.head_dim, cfg.coarse_segm_channels, k, stride=2,
                                                     padding=k // 2 - 1)
        self.embed_lowres = nn.ConvTranspose2d(cfg.head_dim, cfg.embed_size, k, stride=2,
                                               padding=k // 2 - 1)

    def _up(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._up(self.embed_lowres(x)), self._up(self.coarse_segm_lowres(x))
