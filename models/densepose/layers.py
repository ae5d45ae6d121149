"""A convolution with an optional normalisation after it, named the way detectron2 names its keys.

detectron2's ``Conv2d`` keeps the norm as a child ``norm`` of the convolution, so its checkpoints
hold ``<conv>.weight``, ``<conv>.bias`` (only without a norm) and ``<conv>.norm.weight/bias``.
:class:`ConvNorm` has the same parameter paths, so a model-zoo state dict loads by name.
"""

from __future__ import annotations

from stmocap.models.densepose.config import GN_GROUPS, NormKind
from torch import Tensor, nn


class ConvNorm(nn.Conv2d):
    """``(B, C_in, H, W) → (B, C_out, H', W')``: convolution, then GroupNorm when ``norm == "GN"``.

    With a norm the convolution has no bias (the norm's shift replaces it); no activation here.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, norm: NormKind = "", padding: int = 0,
                 dilation: int = 1) -> None:
        super().__init__(c_in, c_out, kernel, padding=padding, dilation=dilation, bias=not norm)
        self.norm: nn.Module | None = nn.GroupNorm(GN_GROUPS, c_out) if norm == "GN" else None

    def forward(self, x: Tensor) -> Tensor:
        x = super().forward(x)
        return self.norm(x) if self.norm is not None else x
