"""HMR2.0's image backbone: a plain ViT (ViTPose-style) from a 256×192 crop to a 16×12 feature map.

Differences from a textbook ViT that the released weights depend on:

* the patch convolution pads by ``patch_padding`` (2) pixels on every side;
* there is no class token in the sequence, but the positional table keeps its class slot
  (row 0), and that row is added to every patch token together with the token's own row;
* LayerNorm eps is ``backbone_ln_eps`` (1e-6), pre-norm blocks, a final LayerNorm.

Attention is written with ``scaled_dot_product_attention`` so the ONNX export is plain matmuls.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from stmocap.models.hmr2.config import HMR2Config
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection (with bias)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        """``x (B, N, C)`` → ``(B, N, C)``."""
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, C / heads)
        return self.out(y.transpose(1, 2).reshape(B, N, C))


class MLP(nn.Module):
    """Linear → GELU (erf) → Linear."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc_in = nn.Linear(width, hidden)
        self.fc_out = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_out(F.gelu(self.fc_in(x)))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, cfg: HMR2Config) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(cfg.width, eps=cfg.backbone_ln_eps)
        self.attn = SelfAttention(cfg.width, cfg.heads)
        self.ln_mlp = nn.LayerNorm(cfg.width, eps=cfg.backbone_ln_eps)
        self.mlp = MLP(cfg.width, int(cfg.width * cfg.mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_attn(x))
        return x + self.mlp(self.ln_mlp(x))


class ViTBackbone(nn.Module):
    """``images (B, 3, H, W)`` (normalised RGB crops) → features ``(B, width, rows, cols)``."""

    def __init__(self, cfg: HMR2Config) -> None:
        super().__init__()
        self.cfg = cfg
        rows, cols = cfg.grid
        self.patch_embed = nn.Conv2d(3, cfg.width, cfg.patch, stride=cfg.patch, padding=cfg.patch_padding)
        # Row 0 is the (unused) class-token slot of the pre-training table; it is a shared bias.
        self.pos_table = nn.Parameter(torch.zeros(1, 1 + rows * cols, cfg.width))
        self.blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width, eps=cfg.backbone_ln_eps)
        nn.init.trunc_normal_(self.pos_table, std=0.02)

    def tokens(self, images: Tensor) -> Tensor:
        """``(B, 3, H, W)`` → normalised tokens ``(B, rows·cols, width)``, row-major over the grid."""
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = x + self.pos_table[:, 1:] + self.pos_table[:, :1]
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, images: Tensor) -> Tensor:
        B = images.shape[0]
        rows, cols = self.cfg.grid
        return self.tokens(images).transpose(1, 2).reshape(B, self.cfg.width, rows, cols)
