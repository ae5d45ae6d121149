"""LSTM residual refinement ζ (paper §3.3): Θ_pred = Θ_coarse + ζ(Z, Θ_coarse)."""

from __future__ import annotations

import torch
from stmocap.models.temporal.config import TemporalNetConfig
from torch import Tensor, nn


class ResidualRefiner(nn.Module):
    """``z (B, W, D)``, ``coarse (B, W, P)`` → residual ``(B, W, P)``.

    A ``lstm_layers``-layer LSTM (hidden ``lstm_hidden``; forward in time unless ``bidirectional``)
    reads ``[Z_i, Θ_coarse_i]`` per frame; a linear head maps each hidden state to a residual. The
    head starts at zero, so an untrained refiner leaves the coarse estimate unchanged.
    """

    def __init__(self, cfg: TemporalNetConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            input_size=cfg.feat_dim + cfg.param_dim,
            hidden_size=cfg.lstm_hidden,
            num_layers=cfg.lstm_layers,
            batch_first=True,
            bidirectional=cfg.bidirectional,
        )
        self.head = nn.Linear(cfg.lstm_hidden * (2 if cfg.bidirectional else 1), cfg.param_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, z: Tensor, coarse: Tensor) -> Tensor:
        out, _ = self.lstm(torch.cat([z, coarse], dim=-1))
        return self.head(out)
