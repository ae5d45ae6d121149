"""``stmocap train-data``: rendered clip → BlazePose + IK → a feature database the trainer reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.groundtruth.shapes import random_betas
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import rotation_6d_to_matrix
from stmocap.models.temporal.features import FEATURE_DIM, blazepose_features
from stmocap.training.data import read_table
from stmocap.training.kinematics import JointModel, pelvis_align

from stmocap.cli import main


def test_features_are_crop_relative() -> None:
    g = np.random.default_rng(0)
    lm = np.concatenate([g.uniform(0.3, 0.5, size=(33, 2)), g.normal(size=(33, 1)) * 0.1,
                         g.uniform(size=(33, 2))], -1)
    world = g.normal(size=(33, 3))
    box = np.array([192.0, 144.0, 320.0, 272.0])  # side 128 px around (256, 208)
    f = blazepose_features(lm, world, box, (640, 480))
    assert f.shape == (FEATURE_DIM,) == (231,)
    shift = np.array([0.1, 0.05])  # the person moves by (64, 24) px: same crop features
    lm2 = lm.copy()
    lm2[:, :2] += shift
    f2 = blazepose_features(lm2, world, box + np.array([64.0, 24.0, 64.0, 24.0]), (640, 480))
    np.testing.assert_allclose(f, f2, atol=1e-5)
    np.testing.assert_allclose(f[0:2], (lm[0, :2] * [640, 480] - [256, 208]) / 64, rtol=1e-5)
    np.testing.assert_array_equal(f[132:], world.reshape(-1).astype(np.float32))


@pytest.mark.slow
def test_train_data_from_a_rendered_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STMOCAP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "walk.npz"
    assert main(["train-data", "--out", str(out), "--clips", "walk", "--max-frames", "16",
                 "--shape-sigma", "1", "--no-progress"]) == 0
    t = read_table(out)
    assert len(t) == 16 and t.has_init and t.features.shape == (16, FEATURE_DIM) and t.valid.all()
    # the view's own body shape, drawn from its scene seed (first seed 100, clip 0)
    np.testing.assert_allclose(t.betas, np.tile(random_betas(100, 1.0), (16, 1)), atol=1e-6)
    # the truth pose (root turned into the camera frame) reproduces the rendered camera-frame joints
    jm = JointModel(load_body_model(None))
    j = jm(rotation_6d_to_matrix(torch.from_numpy(t.pose_6d)), torch.from_numpy(t.betas))
    err = (pelvis_align(j) - pelvis_align(torch.from_numpy(t.joints3d))).norm(dim=-1).max()
    assert float(err) < 1e-4
    # --landmark-embedding: the same frames (the render is cached), H gains the landmark network's
    # 1,152-value feature map, and its mirrored copy comes along for mirrored training
    wide = tmp_path / "walk_embedding.npz"
    assert main(["train-data", "--out", str(wide), "--clips", "walk", "--max-frames", "16",
                 "--shape-sigma", "1", "--no-progress", "--landmark-embedding"]) == 0
    e = read_table(wide)
    assert e.features.shape == (16, FEATURE_DIM + 1152) and e.mirrored_tail.shape == (16, 1152)
    np.testing.assert_allclose(e.features[:, :FEATURE_DIM], t.features, atol=1e-3)
    np.testing.assert_allclose(e.init_pose_6d, t.init_pose_6d, atol=1e-3)
    emb = e.features[:, FEATURE_DIM:]
    assert emb.min() >= 0 and emb.max() <= 6 and (emb > 0).mean() > 0.05  # a ReLU6 map, not zeros
    assert not np.allclose(emb, e.mirrored_tail, atol=1e-2)
