"""The DensePose heads on pooled box features: V1ConvX and DeepLab (ASPP + GroupNorm).

Both map ``(K, C, R, R)`` pooled features to ``(K, head_dim, R, R)`` (R = pooler resolution).
Parameter paths follow detectron2 (``body_conv_fcn{1..N}``, ``ASPP.convs.{0..4}``,
``ASPP.project.0``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from stmocap.models.densepose.config import GN_GROUPS, CSEHeadConfig
from stmocap.models.densepose.layers import ConvNorm
from torch import Tensor, nn


def _stacked_convs(module: nn.Module, cfg: CSEHeadConfig, c_in: int, norm: str) -> None:
    for i in range(cfg.num_convs):
        module.add_module(f"body_conv_fcn{i + 1}",
                          ConvNorm(c_in if i == 0 else cfg.head_dim, cfg.head_dim, cfg.kernel,
                                   norm, padding=cfg.kernel // 2))  # type: ignore[arg-type]


def _run_stacked(module: nn.Module, n: int, x: Tensor) -> Tensor:
    for i in range(n):
        x = F.relu(getattr(module, f"body_conv_fcn{i + 1}")(x))
    return x


class V1ConvXHead(nn.Module):
    """``num_convs`` × (k×k conv with bias → ReLU)."""

    def __init__(self, cfg: CSEHeadConfig) -> None:
        super().__init__()
        self.num_convs = cfg.num_convs
        _stacked_convs(self, cfg, cfg.decoder_out, "")

    def forward(self, x: Tensor) -> Tensor:
        return _run_stacked(self, self.num_convs, x)


class _Branch(nn.Sequential):
    """conv (no bias) → GroupNorm → ReLU, at indices 0, 1, 2 (detectron2's ASPP branch layout)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1) -> None:
        pad = dilation if kernel == 3 else 0
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=pad, dilation=dilation, bias=False),
                         nn.GroupNorm(GN_GROUPS, c_out), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        conv = self[0]
        assert isinstance(conv, nn.Conv2d)
        d = conv.dilation[0]
        if conv.kernel_size[0] == 3 and d >= x.shape[-2] and d >= x.shape[-1]:
            # Every off-centre tap falls in the zero padding (e.g. dilation 56 on a 28×28 box):
            # the 3×3 conv equals a 1×1 conv with its centre weights, at a ninth of the work.
            x = F.conv2d(x, conv.weight[:, :, 1:2, 1:2])
        else:
            x = conv(x)
        return self[2](self[1](x))


class _ImagePooling(nn.Sequential):
    """Global average → 1×1 conv (no bias) → GroupNorm → ReLU, broadcast back to the input size.

    Index 0 is the parameter-free pooling so the parameters sit at 1 and 2 as in detectron2.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c_out, 1, bias=False),
                         nn.GroupNorm(GN_GROUPS, c_out), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        y = x.mean(dim=(2, 3), keepdim=True)
        y = self[3](self[2](self[1](y)))
        return y.expand(-1, -1, x.shape[2], x.shape[3])


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLabV3): five parallel branches, concatenated, 1×1 projection
    (no bias, no norm) + ReLU. ``(K, C, R, R) → (K, C, R, R)``: the width stays the input's."""

    def __init__(self, channels: int, dilations: tuple[int, int, int]) -> None:
        super().__init__()
        C = channels
        self.convs = nn.ModuleList([_Branch(C, C, 1), *(_Branch(C, C, 3, d) for d in dilations),
                                    _ImagePooling(C, C)])
        self.project = nn.Sequential(nn.Conv2d(5 * C, C, 1, bias=False), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabHead(nn.Module):
    """ASPP, then ``num_convs`` × (k×k conv → GroupNorm (no conv bias) → ReLU).

    The configs leave detectron2's optional non-local block off; it is not implemented.
    """

    def __init__(self, cfg: CSEHeadConfig) -> None:
        super().__init__()
        self.num_convs = cfg.num_convs
        self.add_module("ASPP", ASPP(cfg.decoder_out, cfg.aspp_dilations))
        _stacked_convs(self, cfg, cfg.decoder_out, cfg.deeplab_norm)

    def forward(self, x: Tensor) -> Tensor:
        return _run_stacked(self, self.num_convs, self.ASPP(x))


def build_head(cfg: CSEHeadConfig) -> nn.Module:
    """The head of ``cfg.head``."""
    return DeepLabHead(cfg) if cfg.head == "deeplab" else V1ConvXHead(cfg)
