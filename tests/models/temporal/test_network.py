"""Tests for the temporal network (models/temporal): shapes, batch independence, full size."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.rotations import axis_angle_to_matrix, rotation_6d_to_matrix
from stmocap.models.temporal.config import FULL, TINY, TemporalNetConfig
from stmocap.models.temporal.mean_params import load_mean_params, neutral_mean_params
from stmocap.models.temporal.network import TemporalNet, parameter_counts
from stmocap.models.temporal.sta import STA, nssm


def _inputs(cfg: TemporalNetConfig, B: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, cfg.window, cfg.feat_channels, cfg.feat_size, cfg.feat_size, generator=g)
    pose = torch.randn(B, cfg.window, cfg.pose_dim, generator=g)
    cam = torch.randn(B, cfg.window, 3, generator=g)
    return feats, pose, cam


def _trained_like(cfg: TemporalNetConfig, seed: int = 0) -> TemporalNet:
    """A net whose zero-initialised residual head is perturbed, so ζ matters in the tests."""
    torch.manual_seed(seed)
    net = TemporalNet(cfg).eval()
    with torch.no_grad():
        net.refiner.head.weight.normal_(0, 0.05)
    return net


def test_tiny_forward_shapes() -> None:
    cfg = TINY
    out = TemporalNet(cfg).eval()(*_inputs(cfg, 3))
    for params in (out.refined, out.coarse):
        assert params.pose_6d.shape == (3, cfg.window, 24, 6)
        assert params.betas.shape == (3, cfg.window, 10)
        assert params.cam.shape == (3, cfg.window, 3)
        R = params.rotmat
        assert R.shape == (3, cfg.window, 24, 3, 3)
        torch.testing.assert_close(torch.linalg.det(R), torch.ones(3, cfg.window, 24))
    assert out.weights.shape == (3, cfg.window, cfg.window)
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(3, cfg.window))


def test_untrained_refiner_is_identity_and_starts_near_mean() -> None:
    cfg = TINY
    net = TemporalNet(cfg).eval()
    with torch.no_grad():
        out = net(*_inputs(cfg, 2))
    torch.testing.assert_close(out.refined.pose_6d, out.coarse.pose_6d)
    # IEF starts from the mean with small decoders: the first estimate stays near it.
    mean_R = rotation_6d_to_matrix(neutral_mean_params().pose_6d)
    assert float((out.coarse.rotmat - mean_R).abs().max()) < 0.2


@pytest.mark.parametrize("gamma3", ["conv", "pooled_linear", "linear"])
def test_batch_items_do_not_influence_each_other(gamma3: str) -> None:
    cfg = replace(TINY, gamma3=gamma3)
    net = _trained_like(cfg)
    feats, pose, cam = _inputs(cfg, 3)
    with torch.no_grad():
        batched = net(feats, pose, cam)
        for i in range(3):
            single = net(feats[i : i + 1], pose[i : i + 1], cam[i : i + 1])
            torch.testing.assert_close(single.refined.pose_6d[0], batched.refined.pose_6d[i],
                                       atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(single.weights[0], batched.weights[i], atol=1e-6, rtol=1e-5)
        # Changing sample 2 leaves samples 0 and 1 bit-for-bit unchanged.
        feats2, pose2, cam2 = feats.clone(), pose.clone(), cam.clone()
        feats2[2] += 1.0
        pose2[2] *= -1.0
        cam2[2] += 3.0
        moved = net(feats2, pose2, cam2)
    assert torch.equal(moved.refined.pose_6d[:2], batched.refined.pose_6d[:2])
    assert not torch.allclose(moved.refined.pose_6d[2], batched.refined.pose_6d[2])


def test_sta_maps_stacked_per_sample() -> None:
    cfg = TINY
    sta = STA(cfg).eval()
    feats, pose, cam = _inputs(cfg, 2)
    with torch.no_grad():
        out = sta(feats, pose, cam)
    assert out.maps.shape == (2, 5, cfg.window, cfg.window)
    # Map 1 is NSSM of Γ1(pose) of *this* sample.
    torch.testing.assert_close(out.maps[1, 1], nssm(sta.gamma1(pose[1:2]))[0])
    # Z = H + Y with Y = Φ7(weights · Φ5(H)).
    torch.testing.assert_close(out.z - out.h, sta.phi7(out.weights @ sta.phi5(out.h)))
    torch.testing.assert_close(out.maps.sum(-1), torch.ones(2, 5, cfg.window))


def test_sta_trend_kernel_keeps_rows_affine_and_can_extrapolate() -> None:
    """``sta_trend``: the weighting's rows still sum to one whatever the kernel; at its zero start
    the module is the one without it; and a kernel a causal row can use, ``2·e_k − e_(k−1)`` on
    top of a one-hot softmax, carries a linear ramp one frame on (which no softmax row can)."""
    cfg = replace(TINY, sta_position_bias=True, sta_trend=True)
    plain = replace(TINY, sta_position_bias=True)
    torch.manual_seed(0)
    sta = STA(cfg).eval()
    torch.manual_seed(0)
    ref = STA(plain).eval()
    feats, pose, cam = _inputs(cfg, 2)
    with torch.no_grad():
        torch.testing.assert_close(sta(feats, pose, cam).weights, ref(feats, pose, cam).weights)
        sta.trend.normal_(0, 1.0)
        w = sta(feats, pose, cam).weights
        torch.testing.assert_close(w.sum(-1), torch.ones(2, cfg.window))
        assert (w < 0).any()  # affine, not convex
        k, W = cfg.window - 1, cfg.window
        sta.trend.zero_()
        sta.position_bias.fill_(-1e4)
        sta.position_bias[:, k - 1] = 1e4  # the softmax keeps only frame k − 1 ...
        sta.trend[k, k], sta.trend[k, k - 1] = 2.0, -2.0  # ... the kernel makes it 2·e_k − e_(k−1)
        w = sta(feats, pose, cam).weights
    ramp = torch.arange(W, dtype=torch.float32) * 0.5 + 3.0
    torch.testing.assert_close(w[:, k] @ ramp, torch.full((2,), 3.0 + 0.5 * W))  # frame W's value


def test_nssm_properties() -> None:
    x = torch.randn(2, 6, 5)
    for kind in ("cosine", "dot"):
        m = nssm(x, kind)  # type: ignore[arg-type]
        torch.testing.assert_close(m.sum(-1), torch.ones(2, 6))
    # Cosine NSSM ignores the scale of each frame's features; identical frames get equal rows.
    torch.testing.assert_close(nssm(x * 7.0), nssm(x))
    same = x[:, :1].expand(2, 6, 5)
    torch.testing.assert_close(nssm(same), torch.full((2, 6, 6), 1 / 6))


def test_gradients_reach_every_parameter() -> None:
    cfg = TINY
    net = TemporalNet(cfg).train()
    with torch.no_grad():
        net.refiner.head.weight.normal_(0, 0.05)
    out = net(*_inputs(cfg, 2))
    loss = out.refined.pose_6d.square().mean() + out.refined.betas.square().mean() \
        + out.refined.cam.square().mean()
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_bad_inputs_are_named() -> None:
    cfg = TINY
    net = TemporalNet(cfg)
    feats, pose, cam = _inputs(cfg, 1)
    with pytest.raises(ValueError, match="feats must be"):
        net(feats[:, :-1], pose, cam)
    with pytest.raises(ValueError, match="pose_6d must be"):
        net(feats, pose[..., :-1], cam)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        replace(TINY, window=0)


def test_full_config_sizes() -> None:
    assert FULL.window == 16 and FULL.feat_dim == 2048 and FULL.pose_dim == 144
    assert FULL.lstm_hidden == 2048 and FULL.lstm_layers == 3 and FULL.regressor_iterations == 3
    net = TemporalNet(FULL)
    lstm = net.refiner.lstm
    assert lstm.input_size == 2048 + 157 and lstm.hidden_size == 2048 and lstm.num_layers == 3
    assert net.sta.gamma1.out_features == 512 and net.sta.gamma2[-1].out_features == 512
    counts = parameter_counts(net)
    assert counts["total"] == counts["sta"] + counts["regressor"] + counts["refiner"]
    assert 100e6 < counts["total"] < 200e6


def test_full_size_forward_on_cpu() -> None:
    cfg = FULL
    net = TemporalNet(cfg).eval()
    with torch.no_grad():
        out = net(*_inputs(cfg, 2))
    assert out.refined.pose_6d.shape == (2, 16, 24, 6)
    assert torch.isfinite(out.refined.pose_6d).all() and torch.isfinite(out.refined.cam).all()


def test_mean_params_spin_layout(tmp_path: Path) -> None:
    # Write a mean pose in SPIN's interleaved 6D layout and read it back as rotation matrices.
    aa = torch.tensor(np.random.default_rng(0).normal(size=(24, 3)) * 0.5)
    R = axis_angle_to_matrix(aa)
    spin = R[..., :, :2].reshape(24, 6)  # row-major 3×2: x[0::2] is column 0, x[1::2] column 1
    path = tmp_path / "smpl_mean_params.npz"
    np.savez(path, pose=spin.numpy().reshape(-1), shape=np.arange(10.0), cam=[0.9, 0.1, 0.2])
    mean = load_mean_params(path)
    torch.testing.assert_close(rotation_6d_to_matrix(mean.pose_6d).double(), R, atol=1e-6,
                               rtol=0)
    assert mean.betas.tolist() == list(range(10))
    net = TemporalNet(TINY, mean)
    assert net.regressor.mean.shape == (157,)


def test_mean_params_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, pose=np.zeros(10))
    with pytest.raises(ValueError, match="mean-parameter file"):
        load_mean_params(bad)
    with pytest.raises(ValueError, match="mean-parameter file"):
        load_mean_params(tmp_path / "missing.npz")
