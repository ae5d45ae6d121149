"""Feature pyramid (detectron2 ``FPN`` with ``LastLevelMaxPool``, ``fuse_type="sum"``, no norm).

Parameter names match detectron2's ``backbone.*`` keys: ``bottom_up.*`` (the ResNet),
``fpn_lateral{2..5}`` (1×1) and ``fpn_output{2..5}`` (3×3), all with bias.
"""

from __future__ import annotations

import torch.nn.functional as F
from stmocap.models.detectron.config import DetectronConfig
from stmocap.models.detectron.resnet import ResNet
from torch import Tensor, nn

LEVELS = ("p2", "p3", "p4", "p5", "p6")
STRIDES = {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}


class ResNetFPN(nn.Module):
    """(B, 3, H, W) padded, normalised BGR (H, W multiples of 32) → {"p2".."p6"}, each
    (B, fpn_channels, H/s, W/s) with s = 4, 8, 16, 32, 64. ``bottom_up_features`` also gives res2..5."""

    def __init__(self, cfg: DetectronConfig) -> None:
        super().__init__()
        self.bottom_up = ResNet(cfg)
        C = cfg.fpn_channels
        for lvl, cin in zip((2, 3, 4, 5), cfg.stage_channels, strict=True):
            self.add_module(f"fpn_lateral{lvl}", nn.Conv2d(cin, C, 1))
            self.add_module(f"fpn_output{lvl}", nn.Conv2d(C, C, 3, padding=1))

    def pyramid(self, res: dict[str, Tensor]) -> dict[str, Tensor]:
        """Top-down pathway over res2..res5 → p2..p6."""
        out: dict[str, Tensor] = {}
        prev = self.fpn_lateral5(res["res5"])
        out["p5"] = self.fpn_output5(prev)
        for lvl in (4, 3, 2):
            up = F.interpolate(prev, scale_factor=2.0, mode="nearest")
            prev = getattr(self, f"fpn_lateral{lvl}")(res[f"res{lvl}"]) + up
            out[f"p{lvl}"] = getattr(self, f"fpn_output{lvl}")(prev)
        out["p6"] = F.max_pool2d(out["p5"], kernel_size=1, stride=2, padding=0)
        return {k: out[k] for k in LEVELS}

    def bottom_up_features(self, x: Tensor) -> dict[str, Tensor]:
        return self.bottom_up(x)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.pyramid(self.bottom_up(x))
