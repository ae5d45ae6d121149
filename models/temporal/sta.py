"""Spatio-Temporal feature Aggregation (paper §3.2).

Shapes: ``B`` windows (tracks) of ``W`` frames; features ``H (B, W, C, S, S)`` (CSE embedding,
C = 16, S = 112), initial pose ``(B, W, J·6)`` (6D per joint, root first), initial weak-perspective
camera ``(B, W, 3)`` = ``[s, tx, ty]``.

The paper's 1×1 convolutions over the frame axis (Φ1…Φ7) are per-frame linear maps; they are
written as ``nn.Linear`` on ``(B, W, D)``, which is the same function. Every W×W map is computed
per sample and the five are stacked on a new channel axis (never concatenated over the batch
axis, the bug in MPS-Net's release), so batch items never influence each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from stmocap.models.temporal.config import NSSMKind, TemporalNetConfig
from torch import Tensor, nn


def nssm(x: Tensor, kind: NSSMKind = "cosine", temperature: float = 0.1) -> Tensor:
    """Normalised self-similarity matrix of ``x (B, W, D)`` → ``(B, W, W)``, rows summing to 1.

    ``cosine``: softmax over ``cos(x_i, x_j) / temperature``. ``dot``: softmax over raw dot products
    (MPS-Net's release code).
    """
    if kind == "cosine":
        xn = F.normalize(x, dim=-1)
        sim = xn @ xn.transpose(-1, -2) / temperature
    else:
        sim = x @ x.transpose(-1, -2)
    return sim.softmax(dim=-1)


def attention_map(q: Tensor, k: Tensor) -> Tensor:
    """Scaled dot-product attention weights ``softmax(q kᵀ / √d)``: ``(B, W, d)`` → ``(B, W, W)``."""
    return (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(dim=-1)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class FeatureLift(nn.Module):
    """Γ3: one frame's feature map ``(N, C, S, S)`` → ``(N, feat_dim)``.

    * ``conv``: stride-2 3×3 conv stages (GroupNorm, ReLU — no BatchNorm, which would couple the
      batch) keep the spatial layout of body parts, then a linear layer on the flattened map.
    * ``pooled_linear``: average-pool to ``gamma3_pool²`` cells, then one linear layer.
    * ``linear``: the paper's literal linear layer on all ``C·S·S`` values (411M weights at full size).
    * ``mlp``: H is already a vector ``(N, C)`` (lite profile: BlazePose features); hidden layers
      ``gamma3_hidden`` (Linear, LayerNorm, ReLU — per-frame, so batch items stay independent),
      then a linear layer to ``feat_dim``.
    """

    def __init__(self, cfg: TemporalNetConfig) -> None:
        super().__init__()
        self.kind = cfg.gamma3
        self.pool = cfg.gamma3_pool
        layers: list[nn.Module] = []
        side, ch = cfg.feat_size, cfg.feat_channels
        if cfg.gamma3 == "conv":
            for out in cfg.gamma3_channels:
                layers += [nn.Conv2d(ch, out, 3, stride=2, padding=1),
                           nn.GroupNorm(_groups(out), out), nn.ReLU(inplace=True)]
                ch, side = out, (side + 1) // 2
        elif cfg.gamma3 == "pooled_linear":
            side = cfg.gamma3_pool
        elif cfg.gamma3 == "mlp":
            for out in cfg.gamma3_hidden:
                layers += [nn.Linear(ch, out), nn.LayerNorm(out), nn.ReLU(inplace=True)]
                ch = out
            side = 1
        self.encoder = nn.Sequential(*layers)
        self.proj = nn.Linear(ch * side * side, cfg.feat_dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, S, S)`` (or ``(N, C)`` for ``mlp``) → ``(N, feat_dim)``."""
        if self.kind == "pooled_linear":
            x = F.adaptive_avg_pool2d(x, self.pool)
        return self.proj(self.encoder(x).flatten(1))


@dataclass(frozen=True)
class STAOutput:
    """Result of :class:`STA`.

    Attributes:
        z: ``(B, W, D)`` spatio-temporally aggregated features ``Z = H + Y``.
        h: ``(B, W, D)`` lifted per-frame features ``Γ3(H)``.
        maps: ``(B, 5, W, W)``: NSSM(H), NSSM(pose), NSSM(cam), AM(H), AM(cam).
        weights: ``(B, W, W)`` fused aggregation weights ``softmax(Φ6(maps) [+ position bias])``
            [+ the zero-sum trend kernel]; every row sums to one.
    """

    z: Tensor
    h: Tensor
    maps: Tensor
    weights: Tensor


class STA(nn.Module):
    """The STA module: five W×W maps, fused by Φ6, aggregate Φ5 features, Φ7 lifts back, Z = H + Y."""

    def __init__(self, cfg: TemporalNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.gamma1 = nn.Linear(cfg.pose_dim, cfg.pose_lift)
        self.gamma2 = nn.Sequential(nn.Linear(3, cfg.cam_lift), nn.ReLU(inplace=True),
                                    nn.Linear(cfg.cam_lift, cfg.cam_lift))
        self.gamma3 = FeatureLift(cfg)
        self.phi1 = nn.Linear(cfg.cam_lift, cfg.cam_attn_dim, bias=False)
        self.phi2 = nn.Linear(cfg.cam_lift, cfg.cam_attn_dim, bias=False)
        self.phi3 = nn.Linear(cfg.feat_dim, cfg.attn_dim, bias=False)
        self.phi4 = nn.Linear(cfg.feat_dim, cfg.attn_dim, bias=False)
        self.phi5 = nn.Linear(cfg.feat_dim, cfg.attn_dim, bias=False)
        self.phi6 = nn.Conv2d(5, 1, kernel_size=1)
        self.phi7 = nn.Linear(cfg.attn_dim, cfg.feat_dim)
        # Not in the paper: a learned W×W bias on the fused logits, so the weighting can depend on
        # where two frames sit in the window (the five maps only say how alike they are).
        self.position_bias = (nn.Parameter(torch.zeros(cfg.window, cfg.window))
                              if cfg.sta_position_bias else None)
        # Not in the paper: a learned W×W kernel added after the softmax with each row's mean
        # removed, so rows still sum to one but may weigh a frame below zero: an affine
        # combination extrapolates a trend (2·x_t − x_{t−1} is one), a softmax can only average.
        self.trend = nn.Parameter(torch.zeros(cfg.window, cfg.window)) if cfg.sta_trend else None

    def forward(self, feats: Tensor, pose_6d: Tensor, cam: Tensor) -> STAOutput:
        """``feats (B, W, C, S, S)`` (or ``(B, W, C)`` with the mlp Γ3), ``pose_6d (B, W, J·6)``,
        ``cam (B, W, 3)`` → :class:`STAOutput`."""
        B, W = feats.shape[:2]
        h = self.gamma3(feats.flatten(0, 1)).unflatten(0, (B, W))  # (B, W, D)
        p = self.gamma1(pose_6d)
        c = self.gamma2(cam)
        kind, tau = self.cfg.nssm, self.cfg.nssm_temperature
        maps = torch.stack(
            [
                nssm(h, kind, tau),
                nssm(p, kind, tau),
                nssm(c, kind, tau),
                attention_map(self.phi3(h), self.phi4(h)),
                attention_map(self.phi1(c), self.phi2(c)),
            ],
            dim=1,
        )  # (B, 5, W, W): per-sample stacking
        logits = self.phi6(maps).squeeze(1)  # (B, W, W)
        if self.position_bias is not None:
            logits = logits + self.position_bias
        weights = logits.softmax(dim=-1)
        if self.trend is not None:
            weights = weights + (self.trend - self.trend.mean(dim=-1, keepdim=True))
        y = self.phi7(weights @ self.phi5(h))  # (B, W, D)
        return STAOutput(z=h + y, h=h, maps=maps, weights=weights)
