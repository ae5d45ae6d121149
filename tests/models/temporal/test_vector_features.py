"""The mlp Γ3 on per-frame feature vectors (lite profile) and the lite preset's size."""

from __future__ import annotations

import pytest
import torch
from stmocap.models.temporal.config import BLAZEPOSE_FEATURES, PRESETS
from stmocap.models.temporal.network import TemporalNet, parameter_counts


def test_vector_network_shapes_and_batch_independence() -> None:
    cfg = PRESETS["tiny_vector"]
    assert cfg.feat_shape == (BLAZEPOSE_FEATURES,) == (231,)
    net = TemporalNet(cfg).eval()
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, cfg.window, 231, generator=g)
    pose, cam = torch.randn(2, cfg.window, 144, generator=g), torch.randn(2, cfg.window, 3, generator=g)
    out = net(feats, pose, cam)
    assert out.refined.pose_6d.shape == (2, cfg.window, 24, 6) and out.refined.betas.shape == (2, 16, 10)
    other = feats.clone()
    other[1] += 1.0
    again = net(other, pose, cam)
    assert torch.equal(again.refined.pose_6d[0], out.refined.pose_6d[0])  # item 0 untouched by item 1
    with pytest.raises(ValueError, match=r"feats must be \(B, 16, 231\)"):
        net(torch.randn(1, cfg.window, 16, 28, 28), pose[:1], cam[:1])


def test_lite_preset_size() -> None:
    counts = parameter_counts(TemporalNet(PRESETS["lite"]))
    assert counts == {"sta": 284_102, "regressor": 212_125, "refiner": 1_780_125, "total": 2_276_352}


def test_regressor_can_start_from_the_input() -> None:
    """With ``regressor_start = input`` an untrained network (decoders near zero, ζ head zero)
    returns about the per-frame initialisation it was given."""
    from dataclasses import replace

    cfg = replace(PRESETS["tiny_vector"], regressor_start="input")
    net = TemporalNet(cfg).eval()
    g = torch.Generator().manual_seed(1)
    pose = torch.randn(1, 16, 144, generator=g)
    cam = torch.randn(1, 16, 3, generator=g)
    out = net(torch.randn(1, 16, 231, generator=g), pose, cam)
    assert torch.allclose(out.coarse.pose_6d.flatten(2), pose, atol=0.05)
    assert torch.allclose(out.refined.cam, cam, atol=0.05)


def test_regressor_can_start_from_the_aggregated_input() -> None:
    """With ``regressor_start = aggregated`` g starts from Θ_init and ω_init averaged by the STA's
    own weighting: an untrained network returns about ``weights @ input``, a convex combination
    of the window's frames (so a constant input comes back unchanged)."""
    from dataclasses import replace

    cfg = replace(PRESETS["tiny_vector"], regressor_start="aggregated")
    net = TemporalNet(cfg).eval()
    g = torch.Generator().manual_seed(2)
    pose = torch.randn(1, 16, 144, generator=g)
    cam = torch.randn(1, 16, 3, generator=g)
    out = net(torch.randn(1, 16, 231, generator=g), pose, cam)
    assert torch.allclose(out.weights.sum(-1), torch.ones(1, 16), atol=1e-5)
    assert torch.allclose(out.coarse.pose_6d.flatten(2), out.weights @ pose, atol=0.05)
    assert torch.allclose(out.refined.cam, out.weights @ cam, atol=0.05)
    first = pose[:, :1].expand(1, 16, 144)
    still = net(torch.randn(1, 16, 231, generator=g), first, cam[:, :1].expand(1, 16, 3))
    assert torch.allclose(still.coarse.pose_6d.flatten(2), first, atol=0.05)
