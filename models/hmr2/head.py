"""HMR2.0's SMPL head: one query token cross-attends to the backbone tokens and reads out SMPL.

The query starts as a zero vector of size ``token_dim`` (1), is embedded linearly, gets a learned
positional vector, and passes ``decoder_depth`` pre-norm layers of (self-attention, cross-attention
to the image tokens, MLP). Linear read-outs add residuals to the mean parameters (buffers loaded
from the checkpoint): pose as 24 × 6D, betas, weak-perspective camera ``[s, tx, ty]``. With
``ief_iterations > 1`` the read-outs are applied again from the updated estimate, the query staying
zero (upstream's ``TRANSFORMER_INPUT: zero``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from stmocap.models.hmr2.config import HMR2Config
from stmocap.models.hmr2.vit import MLP
from torch import Tensor, nn


class HeadAttention(nn.Module):
    """Multi-head attention without q/k/v biases; ``kv_width`` differs from ``width`` for cross."""

    def __init__(self, width: int, heads: int, head_dim: int, kv_width: int | None = None,
                 fused: bool = True) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads, self.head_dim, self.fused = heads, head_dim, fused
        if fused:  # self-attention: one projection to q, k, v
            self.qkv = nn.Linear(width, 3 * inner, bias=False)
        else:  # cross-attention: q from the token, k and v from the context
            self.q = nn.Linear(width, inner, bias=False)
            self.kv = nn.Linear(kv_width or width, 2 * inner, bias=False)
        self.out = nn.Linear(inner, width)

    def _split(self, t: Tensor) -> Tensor:
        B, N, _ = t.shape
        return t.reshape(B, N, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """``x (B, N, width)``, ``context (B, M, kv_width)`` (cross only) → ``(B, N, width)``."""
        if self.fused:
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        else:
            assert context is not None
            q = self.q(x)
            k, v = self.kv(context).chunk(2, dim=-1)
        y = F.scaled_dot_product_attention(self._split(q), self._split(k), self._split(v))
        B, _, N, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(B, N, self.heads * self.head_dim))


class DecoderLayer(nn.Module):
    """``x += self_attn(ln x)``; ``x += cross_attn(ln x, context)``; ``x += mlp(ln x)``."""

    def __init__(self, cfg: HMR2Config) -> None:
        super().__init__()
        D, eps = cfg.decoder_width, cfg.decoder_ln_eps
        self.ln_self = nn.LayerNorm(D, eps=eps)
        self.self_attn = HeadAttention(D, cfg.decoder_heads, cfg.decoder_head_dim)
        self.ln_cross = nn.LayerNorm(D, eps=eps)
        self.cross_attn = HeadAttention(D, cfg.decoder_heads, cfg.decoder_head_dim, kv_width=cfg.width,
                                        fused=False)
        self.ln_mlp = nn.LayerNorm(D, eps=eps)
        self.mlp = MLP(D, cfg.decoder_mlp)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        x = self.self_attn(self.ln_self(x)) + x
        x = self.cross_attn(self.ln_cross(x), context) + x
        return self.mlp(self.ln_mlp(x)) + x


class SMPLHead(nn.Module):
    """Backbone features ``(B, width, rows, cols)`` → raw pose ``(B, 144)`` (24 × 6D, upstream
    layout = two matrix columns), betas ``(B, 10)``, crop camera ``(B, 3)``.

    ``mean_pose``, ``mean_betas``, ``mean_cam`` are buffers of shape ``(1, ·)``; they default to the
    identity rotation per joint, zero betas and ``[1, 0, 0]`` until a checkpoint fills them.
    """

    def __init__(self, cfg: HMR2Config) -> None:
        super().__init__()
        self.cfg = cfg
        D = cfg.decoder_width
        self.token_embed = nn.Linear(cfg.token_dim, D)
        self.token_pos = nn.Parameter(torch.randn(1, 1, D))
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.decoder_depth))
        self.pose_out = nn.Linear(D, cfg.pose_dim)
        self.betas_out = nn.Linear(D, cfg.betas)
        self.cam_out = nn.Linear(D, 3)
        identity_6d = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).repeat(cfg.joints)
        self.register_buffer("mean_pose", identity_6d[None].clone())
        self.register_buffer("mean_betas", torch.zeros(1, cfg.betas))
        self.register_buffer("mean_cam", torch.tensor([[1.0, 0.0, 0.0]]))

    def decode_token(self, context: Tensor) -> Tensor:
        """Image tokens ``(B, M, width)`` → the query token after the decoder ``(B, decoder_width)``."""
        B = context.shape[0]
        token = torch.zeros(B, 1, self.cfg.token_dim, dtype=context.dtype, device=context.device)
        x = self.token_embed(token) + self.token_pos
        for layer in self.layers:
            x = layer(x, context)
        return x[:, 0]

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B = features.shape[0]
        context = features.flatten(2).transpose(1, 2)  # (B, rows·cols, width), row-major
        pose = self.mean_pose.expand(B, -1)
        betas = self.mean_betas.expand(B, -1)
        cam = self.mean_cam.expand(B, -1)
        for _ in range(self.cfg.ief_iterations):
            # The query is zero every iteration, so the decoder output does not change; upstream
            # still adds the read-outs once per iteration.
            token = self.decode_token(context)
            pose = self.pose_out(token) + pose
            betas = self.betas_out(token) + betas
            cam = self.cam_out(token) + cam
        return pose, betas, cam
