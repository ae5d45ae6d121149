"""The dataset readers on files written in the upstream (VIBE/TCMR joblib) and stmocap layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.rotations import axis_angle_to_rotation_6d
from stmocap.training.data import DatasetError, concat_tables, read_table
from stmocap.training.windows import evaluation_windows, served_positions, training_windows

from .helpers import synthetic_columns, to_vibe_layout, write_vibe_db


def test_vibe_db_round_trip(tmp_path: Path) -> None:
    """A 3DPW-style db (joblib dict, 2048-d features, 49 pixel keypoints, no init) reads back."""
    n = 20
    g = np.random.default_rng(1)
    db = {"vid_name": np.array(["courtyard_a"] * 12 + ["downtown_b"] * 8), "frame_id": np.r_[0:12, 0:8],
          "img_name": np.array([f"img{i}.jpg" for i in range(n)]),
          "joints3D": g.normal(size=(n, 49, 3)).astype(np.float32),
          "joints2D": np.concatenate([g.uniform(0, 1920, size=(n, 49, 2)), np.ones((n, 49, 1))], -1),
          "pose": g.normal(scale=0.2, size=(n, 72)).astype(np.float32),
          "shape": g.normal(size=(n, 10)).astype(np.float32),
          "bbox": np.tile([960.0, 540.0, 400.0, 400.0], (n, 1)), "valid": np.r_[np.ones(19), 0],
          "features": g.normal(size=(n, 2048)).astype(np.float32)}
    t = read_table(write_vibe_db(tmp_path / "3dpw_test_db.pt", db))
    assert len(t) == n and t.features.shape == (n, 2048) and not t.has_init
    assert t.videos() == [("courtyard_a", 0, 12), ("downtown_b", 12, 20)]
    assert t.valid.tolist() == [True] * 19 + [False]
    expected = axis_angle_to_rotation_6d(torch.from_numpy(db["pose"]).reshape(n, 24, 3)).numpy()
    np.testing.assert_allclose(t.pose_6d, expected, atol=1e-6)
    # pixel keypoints → crop units: centre (960, 540), half side 200
    np.testing.assert_allclose(t.joints2d[..., 0], (db["joints2D"][..., 0] - 960) / 200, rtol=1e-5)
    assert t.init_pose_6d.shape == (n, 144) and t.init_cam.shape == (n, 3)


def test_feature_db_and_vibe_layout_agree(tmp_path: Path) -> None:
    cols = synthetic_columns(videos=2, frames=20)
    np.savez(tmp_path / "feats.npz", **cols)
    a = read_table(tmp_path / "feats.npz")
    b = read_table(write_vibe_db(tmp_path / "feats_db.pt", to_vibe_layout(cols)))
    assert a.has_init and b.has_init
    for name in ("features", "init_pose_6d", "init_cam", "pose_6d", "betas", "joints3d"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_allclose(a.joints2d, b.joints2d, atol=1e-4)
    both = concat_tables([a, b])
    assert len(both) == 80 and len(both.videos()) == 4 and both.vid_name[0] == "feats/clip0"


def test_reader_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        read_table(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", vid_name=np.array(["a"]))
    with pytest.raises(DatasetError, match="no 'features' column"):
        read_table(tmp_path / "bad.npz")
    (tmp_path / "x.csv").write_text("a")
    with pytest.raises(DatasetError, match="suffix"):
        read_table(tmp_path / "x.csv")


def test_windows_respect_videos_and_valid(tmp_path: Path) -> None:
    cols = synthetic_columns(videos=2, frames=20)
    cols["valid"][20:36] = False  # second video: only frames 16..19 valid
    np.savez(tmp_path / "f.npz", **cols)
    t = read_table(tmp_path / "f.npz")
    rows = training_windows(t, 16, 2)
    assert rows.shape[1] == 16
    assert all(t.vid_name[r[0]] == t.vid_name[r[-1]] for r in rows)  # never across videos
    assert {int(r[0]) for r in rows} == {0, 2, 4, 22, 24}  # 20..35 has no valid frame: dropped
    ev = evaluation_windows(t, 16, 8)
    assert ev.shape == (40, 16) and (ev[:, 8] == np.arange(40)).all()
    assert ev[0, 0] == 0 and ev[39, -1] == 39 and ev[20, 0] == 20  # edges repeat within a video
    assert served_positions(16, 0) == (15,) and served_positions(16, 7) == tuple(range(8, 16))
