"""ResNet-50/101 bottom-up network laid out as detectron2 builds it (``build_resnet_backbone``).

Parameter names match detectron2's ``backbone.bottom_up.*`` keys once that prefix is removed:
``stem.conv1.{weight,norm.*}``, ``res{2..5}.{i}.conv{1,2,3}.{weight,norm.*}`` and
``res{k}.0.shortcut.{weight,norm.*}``. Convolutions have no bias; every norm is a frozen batch norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from stmocap.models.detectron.config import DetectronConfig
from torch import Tensor, nn


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics: ``y = (x − mean) / sqrt(var + eps) · weight + bias``.

    Its four tensors are buffers (detectron2 checkpoints store all four); (B, C, H, W) → same.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels) - eps)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


class ConvNorm(nn.Conv2d):
    """A bias-free convolution followed by a frozen batch norm kept as its ``norm`` child."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
                 eps: float = 1e-5) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.norm = FrozenBatchNorm2d(cout, eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(super().forward(x))


class Stem(nn.Module):
    """7×7/2 conv + norm + ReLU, then 3×3/2 max pool: (B, 3, H, W) → (B, C, H/4, W/4)."""

    def __init__(self, cout: int, eps: float) -> None:
        super().__init__()
        self.conv1 = ConvNorm(3, cout, 7, stride=2, padding=3, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.relu(self.conv1(x)), kernel_size=3, stride=2, padding=1)


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 residual block; the stride is in the 1×1 (MSRA) or in the 3×3 conv."""

    def __init__(self, cin: int, cout: int, width: int, stride: int, stride_in_1x1: bool,
                 eps: float) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.shortcut = ConvNorm(cin, cout, 1, stride=stride, eps=eps) if cin != cout else None
        self.conv1 = ConvNorm(cin, width, 1, stride=s1, eps=eps)
        self.conv2 = ConvNorm(width, width, 3, stride=s3, padding=1, eps=eps)
        self.conv3 = ConvNorm(width, cout, 1, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + skip)


class ResNet(nn.Module):
    """(B, 3, H, W) normalised BGR → {"res2": stride 4, "res3": 8, "res4": 16, "res5": 32}."""

    def __init__(self, cfg: DetectronConfig) -> None:
        super().__init__()
        self.stem = Stem(cfg.stem_channels, cfg.bn_eps)
        cin, width = cfg.stem_channels, cfg.bottleneck_channels
        self.stage_names = ("res2", "res3", "res4", "res5")
        for k, (name, n, cout) in enumerate(zip(self.stage_names, cfg.blocks, cfg.stage_channels,
                                                strict=True)):
            blocks = []
            for i in range(n):
                stride = 2 if (i == 0 and k > 0) else 1
                blocks.append(Bottleneck(cin, cout, width, stride, cfg.stride_in_1x1, cfg.bn_eps))
                cin = cout
            self.add_module(name, nn.Sequential(*blocks))
            width *= 2

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = {}
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
            out[name] = x
        return out
