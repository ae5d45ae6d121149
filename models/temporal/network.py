"""The whole temporal network: STA → coarse regressor g → LSTM residual ζ (paper §3.2–3.3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from stmocap.models.rotations import rotation_6d_to_matrix
from stmocap.models.temporal.config import TemporalNetConfig
from stmocap.models.temporal.mean_params import MeanParams, neutral_mean_params
from stmocap.models.temporal.refiner import ResidualRefiner
from stmocap.models.temporal.regressor import IterativeRegressor
from stmocap.models.temporal.sta import STA
from torch import Tensor, nn


@dataclass(frozen=True)
class SMPLParams6D:
    """SMPL parameters per frame of each window, pose in 6D.

    Attributes:
        pose_6d: ``(B, W, J, 6)`` root (global orientation, camera frame) then body joints.
        betas: ``(B, W, n_betas)``.
        cam: ``(B, W, 3)`` weak-perspective ``[s, tx, ty]`` of the person crop.
    """

    pose_6d: Tensor
    betas: Tensor
    cam: Tensor

    @property
    def rotmat(self) -> Tensor:
        """``(B, W, J, 3, 3)`` rotation matrices (Gram–Schmidt of the 6D pose)."""
        return rotation_6d_to_matrix(self.pose_6d)


@dataclass(frozen=True)
class TemporalOutput:
    """Refined and coarse estimates, plus the STA weighting for inspection.

    Attributes:
        refined: Θ_pred = Θ_coarse + Θ_res.
        coarse: Θ_coarse from the per-frame regressor g.
        weights: ``(B, W, W)`` fused STA aggregation weights.
    """

    refined: SMPLParams6D
    coarse: SMPLParams6D
    weights: Tensor


class TemporalNet(nn.Module):
    """Inputs: ``feats (B, W, C, S, S)`` (``(B, W, C)`` for vector features, ``cfg.feat_shape``),
    ``pose_6d (B, W, J·6)``, ``cam (B, W, 3)``."""

    def __init__(self, cfg: TemporalNetConfig, mean: MeanParams | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        mean = mean or neutral_mean_params(cfg.joints, cfg.betas)
        self.sta = STA(cfg)
        self.regressor = IterativeRegressor(cfg, mean)
        self.refiner = ResidualRefiner(cfg)

    def _split(self, theta: Tensor) -> SMPLParams6D:
        c = self.cfg
        pose = theta[..., : c.pose_dim].unflatten(-1, (c.joints, 6))
        return SMPLParams6D(pose, theta[..., c.pose_dim : c.pose_dim + c.betas],
                            theta[..., c.pose_dim + c.betas :])

    def pass_through(self, parts: list[str]) -> None:
        """Zero the output layers of ``regressor`` (g's decoders) and/or ``refiner`` (ζ's head)
        in ``parts``, so they return their start unchanged: with ``regressor_start = aggregated``
        and both passed through, the output is Θ_init averaged by the STA weighting, exactly."""
        if "regressor" in parts:
            _zero(self.regressor.dec_pose, self.regressor.dec_betas, self.regressor.dec_cam)
        if "refiner" in parts:
            _zero(self.refiner.head)

    def forward(self, feats: Tensor, pose_6d: Tensor, cam: Tensor) -> TemporalOutput:
        B, W = feats.shape[:2]
        c = self.cfg
        expected = c.feat_shape
        if c.window != W or tuple(feats.shape[2:]) != expected:
            dims = ", ".join(str(d) for d in (c.window, *expected))
            raise ValueError(f"feats must be (B, {dims}), got {tuple(feats.shape)}")
        if pose_6d.shape != (B, W, c.pose_dim) or cam.shape != (B, W, 3):
            raise ValueError(f"pose_6d must be (B, W, {c.pose_dim}) and cam (B, W, 3), got "
                             f"{tuple(pose_6d.shape)} and {tuple(cam.shape)}")
        k = c.relative_to
        if k >= 0:  # the motion around window position k, not the pose
            sta = self.sta(feats - feats[:, k:k + 1], pose_6d - pose_6d[:, k:k + 1], cam - cam[:, k:k + 1])
        else:
            sta = self.sta(feats, pose_6d, cam)
        start = reference = None
        if c.regressor_start != "mean":  # g refines the per-frame initialisation
            if c.regressor_start == "aggregated":  # … after the STA weighting aggregated it
                pose_6d, cam = sta.weights @ pose_6d, sta.weights @ cam
            betas = self.regressor.mean[c.pose_dim:c.pose_dim + c.betas].expand(B, W, -1)
            start = torch.cat([pose_6d, betas, cam], dim=-1)  # (B, W, P)
            if k >= 0:
                reference = start[:, k:k + 1].expand(-1, W, -1)
        coarse = self.regressor(sta.z.flatten(0, 1), None if start is None else start.flatten(0, 1),
                                None if reference is None else reference.flatten(0, 1)).unflatten(0, (B, W))
        refined = coarse + self.refiner(sta.z, coarse if reference is None else coarse - reference)
        return TemporalOutput(self._split(refined), self._split(coarse), sta.weights)


def _zero(*layers: nn.Linear) -> None:
    for layer in layers:
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Trainable parameters per direct child (and ``total``), for reports."""
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts
