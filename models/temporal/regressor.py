"""Coarse per-frame regressor g (paper §3.3): SPIN-style iterative error feedback.

Θ is kept flat in 6D form, ``(N, J·6 + n_betas + 3)`` = pose ‖ β ‖ camera. Starting from the mean
parameters, each of the ``iterations`` steps reads ``[z, Θ]`` and adds a correction to Θ.
"""

from __future__ import annotations

import torch
from stmocap.models.temporal.config import TemporalNetConfig
from stmocap.models.temporal.mean_params import MeanParams
from torch import Tensor, nn


class IterativeRegressor(nn.Module):
    """``z (N, D)`` → Θ ``(N, P)``.

    Two hidden layers of ``regressor_hidden`` with ReLU and dropout (SPIN's code has no
    non-linearity between its two layers, which makes them one linear map; we add ReLU), then one
    linear decoder per group (pose, β, camera) initialised small (Xavier, gain 0.01) as SPIN does.
    """

    def __init__(self, cfg: TemporalNetConfig, mean: MeanParams) -> None:
        super().__init__()
        self.iterations = cfg.regressor_iterations
        self.register_buffer("mean", mean.flat().float())
        P = cfg.param_dim
        self.trunk = nn.Sequential(
            nn.Linear(cfg.feat_dim + P, cfg.regressor_hidden), nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.regressor_hidden, cfg.regressor_hidden), nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
        )
        self.dec_pose = nn.Linear(cfg.regressor_hidden, cfg.pose_dim)
        self.dec_betas = nn.Linear(cfg.regressor_hidden, cfg.betas)
        self.dec_cam = nn.Linear(cfg.regressor_hidden, 3)
        for dec in (self.dec_pose, self.dec_betas, self.dec_cam):
            nn.init.xavier_uniform_(dec.weight, gain=0.01)
            nn.init.zeros_(dec.bias)

    def forward(self, z: Tensor, start: Tensor | None = None, reference: Tensor | None = None) -> Tensor:
        """``z (N, D)`` and optionally the start ``(N, P)`` (default: the mean parameters); with
        ``reference (N, P)`` the trunk reads Θ − reference instead of Θ (relative inputs)."""
        theta = self.mean.expand(z.shape[0], -1) if start is None else start
        for _ in range(self.iterations):
            seen = theta if reference is None else theta - reference
            x = self.trunk(torch.cat([z, seen], dim=-1))
            theta = theta + torch.cat([self.dec_pose(x), self.dec_betas(x), self.dec_cam(x)], -1)
        return theta
