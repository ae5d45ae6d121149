"""The served-stream loss: R windows shifted by one frame, differences of their served frames."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from stmocap.models.rotations import matrix_to_rotation_6d
from stmocap.models.temporal.config import PRESETS
from stmocap.models.temporal.network import SMPLParams6D
from stmocap.training.config import DataConfig, LossConfig, RunConfig, TrainConfig
from stmocap.training.losses import served_loss, served_rows
from stmocap.training.trainer import train

from .helpers import joint_model, write_feature_db


def test_served_rows_are_windows_shifted_by_one() -> None:
    rows = np.arange(2 * 18).reshape(2, 18)
    out = served_rows(rows, 16)
    assert out.shape == (6, 16)
    np.testing.assert_array_equal(out[0], np.arange(16))
    np.testing.assert_array_equal(out[2], np.arange(2, 18))
    np.testing.assert_array_equal(out[3], np.arange(18, 34))


def _params_and_truth(R: int, W: int, jitter: float) -> tuple[SMPLParams6D, dict[str, torch.Tensor]]:
    """R windows whose served position (W-1) is a rotating knee; the prediction adds an
    alternating offset of ``jitter`` rad to that knee at the served positions."""
    jm = joint_model()
    angles = 0.1 * torch.arange(R, dtype=torch.float32)
    rot = torch.eye(3).repeat(R, W, 24, 1, 1)
    def knee(a: torch.Tensor) -> torch.Tensor:
        c, s = torch.cos(a), torch.sin(a)
        z, o = torch.zeros_like(a), torch.ones_like(a)
        return torch.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*a.shape, 3, 3)
    truth = rot.clone()
    truth[:, :, 4] = knee(angles)[:, None]
    pred = truth.clone()
    sign = torch.tensor([(-1.0) ** r for r in range(R)])
    pred[:, W - 1, 4] = knee(angles + jitter * sign)
    betas = torch.zeros(R, W, 10)
    with torch.no_grad():
        t3 = jm(truth.flatten(0, 1), betas.flatten(0, 1)).unflatten(0, (R, W))
    params = SMPLParams6D(matrix_to_rotation_6d(pred), betas, torch.zeros(R, W, 3))
    return params, {"t_joints3d": t3, "valid": torch.ones(R, W, dtype=torch.bool)}


def test_served_loss_is_zero_for_the_truth_and_grows_with_jitter() -> None:
    jm = joint_model()
    cfg = LossConfig(served_accel=1.0, served_velocity=1.0)
    exact, batch = _params_and_truth(R=4, W=16, jitter=0.0)
    terms = served_loss(exact, batch, 4, 15, jm, cfg)
    assert set(terms) == {"served_accel", "served_velocity"}
    assert all(float(v) < 1e-10 for v in terms.values())
    small = served_loss(_params_and_truth(4, 16, 0.05)[0], batch, 4, 15, jm, cfg)
    large = served_loss(_params_and_truth(4, 16, 0.2)[0], batch, 4, 15, jm, cfg)
    for k in terms:
        assert 0 < float(small[k]) < float(large[k])
    # Jitter at another position than the served one is not the served stream's.
    assert float(served_loss(_params_and_truth(4, 16, 0.2)[0], batch, 4, 14, jm, cfg)["served_accel"]) < 1e-10
    # Off by default; R = 2 has a velocity but no acceleration.
    assert served_loss(exact, batch, 4, 15, jm, LossConfig()) == {}
    two = served_loss(exact, {k: v[:2] for k, v in batch.items()}, 2, 15, jm, cfg)
    assert set(two) == {"served_velocity"}


def test_training_with_served_runs_lowers_the_served_accel(tmp_path: Path) -> None:
    data = write_feature_db(tmp_path / "train.npz", videos=2, frames=30, seed=5)
    run = RunConfig(TrainConfig(preset="tiny_vector", epochs=30, batch_size=4, lr=3e-3, stride=2,
                                served_run=4, out=str(tmp_path / "run"), progress=False,
                                checkpoint_every=1000),
                    DataConfig(train=(str(data),)), LossConfig(served_accel=1e5, served_velocity=1e4),
                    PRESETS["tiny_vector"])
    result = train(run, status=lambda s: None)
    with open(tmp_path / "run" / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == result.steps == 30 * 3  # 2 videos × 6 runs of 19 frames, batch 4
    acc = [float(r["refined/served_accel"]) for r in rows]
    assert np.mean(acc[-10:]) < np.mean(acc[:10]) / 3, (acc[:3], acc[-3:])
