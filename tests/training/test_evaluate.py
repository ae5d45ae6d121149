"""Dataset evaluation on known answers, and the two commands end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.body.model import load_body_model
from stmocap.training.data import read_table
from stmocap.training.evaluate import JointSet, Prediction, dataset_metrics, markdown_table

from stmocap.cli import main

from .helpers import synthetic_columns, to_vibe_layout, write_vibe_db


@pytest.fixture(scope="module")
def joint_set() -> JointSet:
    return JointSet(load_body_model(None))


def _table(tmp_path: Path, frames: int = 20):
    np.savez(tmp_path / "t.npz", **synthetic_columns(videos=2, frames=frames))
    return read_table(tmp_path / "t.npz")


def _truth_pred(table) -> dict[str, Prediction]:
    return {"truth-as-pred": Prediction(table.pose_6d, table.betas, table.init_cam)}


def test_truth_scores_zero(tmp_path: Path, joint_set: JointSet) -> None:
    table = _table(tmp_path)
    res, _ = dataset_metrics(_truth_pred(table), table, joint_set)
    for name, value in res["truth-as-pred"].items():
        assert value == pytest.approx(0.0, abs=1e-3), name


def test_known_offset_and_scale(tmp_path: Path, joint_set: JointSet) -> None:
    table = _table(tmp_path)
    pred = _truth_pred(table)
    j, _ = joint_set(table.pose_6d, table.betas)  # pelvis-aligned truth joints (N, 24, 3)
    j = j.numpy()
    # one joint (the head, 15) 5 cm off in every frame; an invalid frame with a huge error is skipped
    off = j.copy()
    off[:, 15, 0] += 0.05
    off[3] += 10.0
    t = replace(table, pose_6d=None, betas=None, joints3d=off, valid=np.arange(len(j)) != 3)
    res = dataset_metrics(pred, t, joint_set)[0]["truth-as-pred"]
    assert res["MPJPE"] == pytest.approx(50.0 / 24, rel=1e-4)
    assert res["MPVPE"] is None  # no truth mesh without truth pose/shape
    # rotated and scaled ×2 about the pelvis: Procrustes removes it all, MPJPE = mean |x|
    R = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.3, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    big = 2.0 * j @ R.numpy().T
    res = dataset_metrics(pred, replace(t, joints3d=big, valid=t.valid | True), joint_set)[0]["truth-as-pred"]
    assert res["PA-MPJPE"] == pytest.approx(0.0, abs=1e-2)
    assert res["MPJPE"] == pytest.approx(float(np.linalg.norm(big - j, axis=-1).mean() * 1000), rel=1e-4)
    # a joint accelerating at 2c per frame² within each video: ACC-ERR = 2c / 24 joints
    c = 0.001
    acc = j.copy()
    for _, lo, hi in table.videos():
        acc[lo:hi, 15, 0] += c * np.arange(hi - lo) ** 2
    res = dataset_metrics(pred, replace(t, joints3d=acc, valid=t.valid | True), joint_set)[0]["truth-as-pred"]
    assert res["ACC-ERR"] == pytest.approx(2 * c * 1000 / 24, rel=1e-3)


def test_markdown_layout() -> None:
    md = markdown_table({"3dpw": {"refined": {"PA-MPJPE": 39.2, "MPJPE": 63.5, "MPVPE": 61.8,
                                              "ACC-ERR": 5.3}},
                         "h36m": {"refined": {"PA-MPJPE": 31.0, "MPJPE": 41.3, "MPVPE": None,
                                              "ACC-ERR": 3.3}}})
    head, rule, row = md.splitlines()
    assert head.startswith("| Method | 3dpw PA-MPJPE↓ | 3dpw MPJPE↓ | 3dpw MPVPE↓ | 3dpw ACC-ERR↓ | h36m")
    assert row == "| refined | 39.2 | 63.5 | 61.8 | 5.3 | 31.0 | 41.3 | - | 3.3 |"
    assert rule == "|" + "---|" * 9


def test_train_then_eval_commands(tmp_path: Path) -> None:
    np.savez(tmp_path / "train.npz", **synthetic_columns(videos=2, frames=20, seed=5))
    cols = synthetic_columns(videos=1, frames=18, seed=6)
    write_vibe_db(tmp_path / "test_db.pt", to_vibe_layout(cols))
    (tmp_path / "run.toml").write_text(
        '[train]\npreset = "tiny_vector"\nbatch_size = 2\nout = "run"\n\n'
        '[data]\ntrain = ["train.npz"]\n\n[loss]\naccel = 1.0\n\n[temporal]\nlstm_layers = 2\n')
    assert main(["train", str(tmp_path / "run.toml"), "--max-steps", "3", "--no-progress"]) == 0
    ckpt = tmp_path / "run" / "last.pt"
    assert ckpt.is_file()
    out = tmp_path / "eval"
    assert main(["eval", "--dataset", str(tmp_path / "test_db.pt"), "--checkpoint", str(ckpt),
                 "--lookahead", "7", "--out", str(out)]) == 0
    res = json.loads((out / "eval.json").read_text())["test_db"]
    assert set(res) == {"refined", "coarse", "init"}
    assert all(set(m) == {"PA-MPJPE", "MPJPE", "MPVPE", "ACC-ERR"} for m in res.values())
    assert (out / "acceleration_test_db.png").stat().st_size > 1000
    assert "| Method | test_db PA-MPJPE↓" in (out / "eval.md").read_text()
    # a wrong feature width fails in one line
    cols["features"] = cols["features"][:, :10]
    write_vibe_db(tmp_path / "narrow_db.pt", to_vibe_layout(cols))
    assert main(["eval", "--dataset", str(tmp_path / "narrow_db.pt"), "--checkpoint", str(ckpt),
                 "--out", str(out)]) == 2
