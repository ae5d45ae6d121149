"""Unrendered pairs (``stmocap train-virtual``): the truth → BlazePose regressor, its noise model,
the turned / time-warped motions, and the tables they make, through the real lite per-frame stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.evaluation.metrics import mpjpe
from stmocap.models.body.model import load_body_model
from stmocap.models.ik.correspondence import landmarks_from_joints
from stmocap.models.rotations import axis_angle_to_matrix, rotation_6d_to_matrix
from stmocap.realtime.pipeline import PipelineConfig, build_stage
from stmocap.training.data import read_table
from stmocap.training.virtual import (
    VirtualConfig,
    box_coords,
    fit_regressor,
    time_warp,
    turn,
    virtual_table,
)

from stmocap.cli import main

BODY = load_body_model(None)


def _truth(T: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth motion on the free body's mean shape: ``pose (T, 72)`` (root in the camera frame:
    upright, facing the camera), camera-frame ``joints3d (T, 24, 3)`` with the pelvis ≈ 3.5 m away."""
    g = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None] / 30.0
    amp, freq = g.uniform(0, 0.5, (1, 24, 3)), g.uniform(0.3, 1.5, (1, 24, 3))
    phase = g.uniform(0, 6, (1, 24, 3))
    aa = amp * np.sin(2 * np.pi * freq * t + phase)
    aa[:, 0] = [np.pi, 0.0, 0.0]  # upright in the camera frame (π about x)
    rot = axis_angle_to_matrix(torch.from_numpy(aa))
    with torch.no_grad():
        j = BODY(rot.float(), torch.zeros(T, 10)).joints.double().numpy()
    j = j - j[:, :1] + np.array([0.2, 0.1, 3.5]) + 0.01 * np.arange(T)[:, None, None] * [1, 0, 0]
    return aa.reshape(T, 72), j


def _table(pose: np.ndarray, joints3d: np.ndarray, name: str = "walk@view0") -> dict[str, np.ndarray]:
    """A "rendered" table whose BlazePose features are the joints themselves (each landmark at its
    joint: a known, exactly linear answer) plus 1 cm / 0.01 box units of AR(1) noise (ρ = 0.8)."""
    T = len(pose)
    g = np.random.default_rng(1)
    j2d = box_coords(joints3d, 1.6)
    rel = joints3d - joints3d[:, :1]
    scale = np.sqrt(((j2d - j2d.mean(1, keepdims=True)) ** 2).sum((1, 2))
                    / ((joints3d[..., :2] - joints3d[..., :2].mean(1, keepdims=True)) ** 2).sum((1, 2)))
    xy = landmarks_from_joints(np.concatenate([j2d, np.zeros((T, 24, 1))], -1))[..., :2]
    z = landmarks_from_joints(rel)[..., 2:3] * scale[:, None, None]
    image = np.concatenate([xy, z, np.full((T, 33, 1), 0.9)], -1).reshape(T, -1)
    feats = np.concatenate([image, landmarks_from_joints(rel).reshape(T, -1)], -1)
    noise = np.zeros_like(feats)
    noise[0] = g.normal(size=feats.shape[1])  # stationary from the start
    for t in range(1, T):
        noise[t] = 0.8 * noise[t - 1] + 0.6 * g.normal(size=feats.shape[1])
    feats = feats + 0.01 * noise
    return {"vid_name": np.array([name] * T), "frame_id": np.arange(T), "features": feats.astype(np.float32),
            "init_pose": np.zeros((T, 144), np.float32), "init_shape": np.zeros((T, 10), np.float32),
            "init_cam": np.zeros((T, 3), np.float32), "pose": pose.astype(np.float32),
            "shape": np.zeros((T, 10), np.float32), "joints3D": joints3d.astype(np.float32),
            "joints2D": np.concatenate([j2d, np.ones((T, 24, 1))], -1).astype(np.float32),
            "valid": np.ones(T, bool)}


def _fk(pose: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        j = BODY(axis_angle_to_matrix(torch.from_numpy(pose.reshape(-1, 24, 3))).float(),
                 torch.zeros(len(pose), 10)).joints.double().numpy()
    return j - j[:, :1]


def test_the_regressor_finds_a_known_map_and_its_noise() -> None:
    tables = [_table(*_truth(T=300)), _table(*_truth(T=300, seed=5), name="run@view1")]
    reg = fit_regressor(tables)
    s = reg.summary()
    # the features' own noise is 0.01 (AR(1), ρ = 0.8); the fit adds next to nothing to it
    assert s["image_xy_rms"] < 0.013 and s["world_rms_m"] < 0.013
    assert 0.65 < float(np.median(reg.noise_rho[132:])) < 0.9
    assert reg.box_extent == pytest.approx(1.6, rel=1e-3)
    # each world landmark is its own joint: the most weight on it (neighbours are correlated)
    assert int(np.argmax(reg.world[11])) == 16 and reg.world[11, 16] > 0.85  # left shoulder
    assert int(np.argmax(reg.world[27])) == 7  # left ankle
    with pytest.raises(ValueError, match="100"):
        fit_regressor([{k: v[:20] for k, v in tables[0].items()}])


def test_turning_and_time_warping_keep_pose_and_joints_consistent() -> None:
    pose, j3d = _truth(T=20)
    p, j = turn(pose, j3d, 70.0)
    # the body model on the turned pose gives the turned joints (root-relative), and the pelvis stays
    np.testing.assert_allclose(_fk(p), j - j[:, :1], atol=1e-5)
    np.testing.assert_allclose(j[:, 0], j3d[:, 0])
    back = turn(*turn(pose, j3d, 130.0), -130.0)
    np.testing.assert_allclose(back[1], j3d, atol=1e-9)
    same = time_warp(pose, j3d, 1.0)
    np.testing.assert_allclose(same[1], j3d, atol=1e-5)
    np.testing.assert_allclose(_fk(same[0]), _fk(pose), atol=1e-4)
    fast = time_warp(pose, j3d, 2.0)
    assert len(fast[0]) == 10
    np.testing.assert_allclose(fast[1], j3d[::2], atol=1e-5)
    slow = time_warp(pose, j3d, 0.5)
    assert len(slow[0]) == 39
    np.testing.assert_allclose(slow[1][1], (j3d[0] + j3d[1]) / 2, atol=1e-5)


def test_unrendered_sequences_through_the_lite_stage_match_their_truth() -> None:
    """Noise-free virtual landmarks of turned, time-warped copies: the lite per-frame stage's
    initialisation is as near the truth as on the table itself."""
    tables = [_table(*_truth()), _table(*_truth(seed=5), name="run@view1")]
    perframe = build_stage("perframe", PipelineConfig())
    # fitted, as on real renders, on several views (one view alone leaves it unconstrained)
    reg = fit_regressor([_table(*turn(*_truth(seed=s), a), name=f"c{s}@view{a}")
                         for s in (0, 5) for a in (-120, -60, 0, 60, 120, 180)])

    def init_error(out: dict[str, np.ndarray]) -> float:
        rot = rotation_6d_to_matrix(torch.from_numpy(out["init_pose"].reshape(-1, 24, 6)))
        with torch.no_grad():
            init = BODY(rot.float(), torch.from_numpy(out["init_shape"])).joints
        truth = torch.from_numpy(out["joints3D"]).float()
        return float(mpjpe(init - init[:, :1], truth - truth[:, :1]).mean())

    out = virtual_table(tables[:2], VirtualConfig(views=2, noise=0.0, seed=3), perframe, reg)
    names = sorted(set(out["vid_name"]))
    assert names == ["run@view1/virtual0", "run@view1/virtual1", "walk@view0/virtual0",
                     "walk@view0/virtual1"]
    as_filmed = virtual_table(tables[:2], VirtualConfig(views=1, max_turn=0.0, min_speed=1.0,
                                                        max_speed=1.0, noise=0.0), perframe, reg)
    np.testing.assert_allclose(as_filmed["joints3D"], np.concatenate([t["joints3D"] for t in tables[:2]]),
                               atol=1e-5)
    # mm; the closed-form IK on exact landmarks of the mean body, turned or not
    assert init_error(out) < init_error(as_filmed) + 10 < 60, (init_error(out), init_error(as_filmed))
    assert out["valid"].all() and out["features"].shape[1] == 231
    # turned copies are not the original view: the truth root orientations differ
    assert not np.allclose(out["pose"][: 10, :3], tables[0]["pose"][:10, :3], atol=0.1)


def test_train_virtual_command(tmp_path: Path) -> None:
    src = tmp_path / "rendered.npz"
    tables = [_table(*_truth()), _table(*_truth(seed=5), name="run@view1")]
    np.savez(src, **{k: np.concatenate([t[k] for t in tables * 2]) for k in tables[0]})
    out = tmp_path / "virtual.npz"
    assert main(["train-virtual", "--out", str(out), "--from", str(src), "--views", "1",
                 "--no-progress"]) == 0
    t = read_table(out)
    assert t.has_init and len(t) > 100 and t.valid.all()
    import json

    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["regressor"]["frames"] == 192 and meta["config"]["views"] == 1
    assert main(["train-virtual", "--out", str(out), "--from", str(tmp_path / "nope.npz")]) == 2
    assert main(["train-virtual", "--out", str(out), "--from", str(src), "--min-speed", "2",
                 "--max-speed", "1", "--no-progress"]) == 2
