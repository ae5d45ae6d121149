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


@pytest.mark.parametrize("start", ["input", "aggregated"])
def test_relative_inputs_see_the_motion_not_the_pose(start: str) -> None:
    """With ``relative_to = k`` every input is taken relative to window position k: adding one
    constant to every frame's H, Θ_init and ω_init (a different pose, the same motion) shifts the
    output pose and camera by exactly that constant and leaves β alone; a change of the motion
    changes the output. The paper's absolute network does not have this property."""
    from dataclasses import replace

    g = torch.Generator().manual_seed(3)
    W = PRESETS["tiny_vector"].window
    feats, pose, cam = (torch.randn(2, W, n, generator=g) for n in (231, 144, 3))
    for k in (W - 1, 8):
        torch.manual_seed(0)
        net = TemporalNet(replace(PRESETS["tiny_vector"], relative_to=k, regressor_start=start)).eval()
        for p in net.parameters():  # decoders and ζ's head away from their near-zero start
            p.data.add_(0.05 * torch.randn(p.shape, generator=g))
        out = net(feats, pose, cam).refined
        moved = net(feats + 0.7, pose - 0.3, cam + 0.2).refined
        torch.testing.assert_close(moved.pose_6d, out.pose_6d - 0.3, atol=2e-5, rtol=0)
        torch.testing.assert_close(moved.cam, out.cam + 0.2, atol=2e-5, rtol=0)
        torch.testing.assert_close(moved.betas, out.betas, atol=2e-5, rtol=0)
        wiggle = pose.clone()
        wiggle[:, 3] += 0.5
        assert (net(feats, wiggle, cam).refined.pose_6d[:, k] - out.pose_6d[:, k]).abs().max() > 1e-3
    torch.manual_seed(0)
    absolute = TemporalNet(replace(PRESETS["tiny_vector"], regressor_start=start)).eval()
    for p in absolute.parameters():
        p.data.add_(0.05 * torch.randn(p.shape, generator=g))
    a, b = absolute(feats, pose, cam).refined, absolute(feats + 0.7, pose - 0.3, cam + 0.2).refined
    assert (b.pose_6d - (a.pose_6d - 0.3)).abs().max() > 1e-3


def test_relative_inputs_are_checked() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="relative_to must be"):
        replace(PRESETS["tiny_vector"], relative_to=16)
    with pytest.raises(ValueError, match="relative_to needs regressor_start"):
        replace(PRESETS["tiny_vector"], relative_to=15, regressor_start="mean")
