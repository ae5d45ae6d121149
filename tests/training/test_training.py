"""Training: a tiny model overfits a tiny batch; a resumed run ends bit-identical to an
uninterrupted one; checkpoints carry their config, data manifest and metrics."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch
from stmocap.models.temporal.checkpoint import CheckpointError, load_checkpoint
from stmocap.models.temporal.config import PRESETS
from stmocap.training.config import DataConfig, LossConfig, RunConfig, TrainConfig, run_config_from_dict
from stmocap.training.data import sha256_file
from stmocap.training.state import load_training_blob
from stmocap.training.trainer import train, weights_equal

from .helpers import write_feature_db


def _losses(out: Path) -> list[float]:
    with open(out / "log.csv", newline="") as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


def test_tiny_model_overfits_one_window(tmp_path: Path) -> None:
    data = write_feature_db(tmp_path / "one.npz", videos=1, frames=16)
    run = RunConfig(TrainConfig(preset="tiny_vector", epochs=40, batch_size=1, lr=3e-3, positions="all",
                                out=str(tmp_path / "run"), progress=False, checkpoint_every=1000),
                    DataConfig(train=(str(data),)), LossConfig(), PRESETS["tiny_vector"])
    result = train(run, status=lambda s: None)
    losses = _losses(tmp_path / "run")
    assert len(losses) == result.steps == 40
    assert losses[-1] < losses[0] / 10, f"loss {losses[0]:.3g} → {losses[-1]:.3g}"


def _run(tmp_path: Path, data: Path, val: Path, out: str, **train: int) -> RunConfig:
    net = dataclasses.replace(PRESETS["tiny_vector"], dropout=0.3)  # dropout: RNG state matters
    return RunConfig(TrainConfig(preset="tiny_vector", epochs=3, batch_size=2, lr=1e-3, stride=4,
                                 plateau_patience=1, lookahead=3, out=str(tmp_path / out),
                                 progress=False, checkpoint_every=2, **train),
                     DataConfig(train=(str(data),), val=(str(val),)), LossConfig(coarse=0.5, accel=1.0),
                     net)


def test_resume_reproduces_uninterrupted_run(tmp_path: Path) -> None:
    data = write_feature_db(tmp_path / "train.npz", videos=2, frames=24, seed=3)  # 6 windows, 3 steps/epoch
    val = write_feature_db(tmp_path / "val.npz", videos=1, frames=20, seed=4)
    full = train(_run(tmp_path, data, val, "full"), status=lambda s: None)
    assert full.steps == 9
    part = train(_run(tmp_path, data, val, "part", max_steps=4), status=lambda s: None)  # mid-epoch
    assert part.steps == 4
    resumed = train(_run(tmp_path, data, val, "part"), resume=part.checkpoint, status=lambda s: None)
    assert resumed.steps == 9
    assert weights_equal(load_checkpoint(full.checkpoint), load_checkpoint(resumed.checkpoint))
    a, b = load_training_blob(full.checkpoint), load_training_blob(resumed.checkpoint)
    assert a["state"]["plateau"] == b["state"]["plateau"]
    for sa, sb in zip(a["state"]["optimizer"]["state"].values(), b["state"]["optimizer"]["state"].values(),
                      strict=True):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    assert _losses(tmp_path / "full") == _losses(tmp_path / "part")  # the log is continued, not restarted
    # what the checkpoint carries
    assert run_config_from_dict(a["run"]) == _run(tmp_path, data, val, "full")
    assert a["manifest"]["train"][0]["sha256"] == sha256_file(data)
    assert a["manifest"]["val"][0]["frames"] == 20
    assert set(a["metrics"]["val"]["refined"]) == {"PA-MPJPE", "MPJPE", "MPVPE", "ACC-ERR"}
    assert (tmp_path / "full" / "best.pt").is_file()


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    data = write_feature_db(tmp_path / "train.npz", videos=1, frames=16)
    val = write_feature_db(tmp_path / "val.npz", videos=1, frames=16, seed=1)
    part = train(_run(tmp_path, data, val, "a", max_steps=1), status=lambda s: None)
    other = dataclasses.replace(_run(tmp_path, data, val, "a"),
                                loss=LossConfig(pose=1.0))
    with pytest.raises(CheckpointError, match=r"loss\.pose"):
        train(other, resume=part.checkpoint, status=lambda s: None)


def test_paper_profile_map_features_train_and_evaluate(tmp_path: Path) -> None:
    """The conv-Γ3 (paper) network trains from a VIBE-layout db with feature maps, then evaluates."""
    import numpy as np

    from stmocap.cli import main

    from .helpers import synthetic_columns, to_vibe_layout, write_vibe_db

    cfg = PRESETS["tiny"]
    cols = to_vibe_layout(synthetic_columns(videos=1, frames=18, seed=7))
    g = np.random.default_rng(0)
    cols["features"] = g.normal(size=(18, *cfg.feat_shape)).astype(np.float32)
    db = write_vibe_db(tmp_path / "maps_db.pt", cols)
    run = RunConfig(TrainConfig(preset="tiny", max_steps=2, batch_size=2, out=str(tmp_path / "run"),
                                progress=False), DataConfig(train=(str(db),)), LossConfig(), cfg)
    result = train(run, status=lambda s: None)
    assert result.steps == 2
    assert main(["eval", "--dataset", str(db), "--checkpoint", str(result.checkpoint),
                 "--out", str(tmp_path / "eval")]) == 0


@pytest.mark.parametrize("pass_through", [False, True])
def test_train_only_the_sta_keeps_the_rest(tmp_path: Path, pass_through: bool) -> None:
    """``train_only = ("sta",)``: g and ζ keep their seeded initial weights, the STA (with its
    position bias) moves and the loss falls; with ``pass_through`` g's decoders and ζ's head are
    zero and the output is exactly the STA-weighted average of Θ_init."""
    data = write_feature_db(tmp_path / "one.npz", videos=1, frames=16)
    net = dataclasses.replace(PRESETS["tiny_vector"], regressor_start="aggregated", sta_position_bias=True)
    run = RunConfig(TrainConfig(preset="tiny_vector", epochs=20, batch_size=1, lr=3e-3, positions="all",
                                train_only=("sta",), pass_through=pass_through, out=str(tmp_path / "run"),
                                progress=False,
                                checkpoint_every=1000),
                    DataConfig(train=(str(data),)), LossConfig(), net)
    result = train(run, status=lambda s: None)
    torch.manual_seed(run.train.seed)
    from stmocap.models.temporal.network import TemporalNet

    start = TemporalNet(net).state_dict()
    trained = load_checkpoint(result.checkpoint)
    end = trained.state_dict()
    outputs = ("regressor.dec_", "refiner.head")
    for name, tensor in start.items():
        if pass_through and name.startswith(outputs):
            assert not end[name].any(), name
        elif pass_through and name.startswith(("sta.phi5", "sta.phi7")):  # only make Z, unread now
            assert torch.equal(tensor, end[name]), name
        else:
            assert torch.equal(tensor, end[name]) != name.startswith("sta."), name
    assert end["sta.position_bias"].abs().max() > 0
    losses = _losses(tmp_path / "run")
    assert losses[-1] < losses[0]
    if not pass_through:
        return
    g = torch.Generator().manual_seed(1)
    feats, pose, cam = (torch.randn(1, net.window, n, generator=g) for n in (231, 144, 3))
    with torch.no_grad():
        out = trained(feats, pose, cam)
    torch.testing.assert_close(out.refined.pose_6d.flatten(2), out.weights @ pose)
    torch.testing.assert_close(out.refined.cam, out.weights @ cam)
    with pytest.raises(ValueError, match="train_only"):
        TrainConfig(train_only=("gamma3",))


def test_release_strips_the_resume_state(tmp_path: Path) -> None:
    """``stmocap train-release``: the network and its record, no optimiser; the same weights."""
    from stmocap.cli import main

    data = write_feature_db(tmp_path / "one.npz", videos=1, frames=16)
    run = RunConfig(TrainConfig(preset="tiny_vector", max_steps=2, batch_size=1, out=str(tmp_path / "run"),
                                progress=False), DataConfig(train=(str(data),)), LossConfig(),
                    PRESETS["tiny_vector"])
    result = train(run, status=lambda s: None)
    out = tmp_path / "ship" / "net.pt"
    assert main(["train-release", str(result.checkpoint), str(out)]) == 0
    blob = torch.load(out, weights_only=True)
    assert "state" not in blob and blob["release"]["step"] == 2
    assert blob["manifest"]["train"][0]["sha256"] == sha256_file(data)
    assert weights_equal(load_checkpoint(out), load_checkpoint(result.checkpoint))
    assert out.stat().st_size < result.checkpoint.stat().st_size
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_training_blob(out)
