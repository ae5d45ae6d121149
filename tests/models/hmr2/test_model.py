"""HMR2.0 network: shapes, valid rotations, the 6D conventions, upstream's parameter counts."""

from __future__ import annotations

import pytest
import torch
from stmocap.models.hmr2.checkpoint import random_hmr2
from stmocap.models.hmr2.config import FULL, TINY, HMR2Config
from stmocap.models.hmr2.model import HMR2
from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_rotation_6d


@pytest.fixture(scope="module")
def tiny() -> HMR2:
    return random_hmr2(TINY)


def test_tiny_shapes(tiny: HMR2) -> None:
    with torch.no_grad():
        out = tiny(torch.randn(3, 3, 64, 48), return_features=True)
    assert out.rotmats.shape == (3, 24, 3, 3)
    assert out.betas.shape == (3, 10) and out.cam.shape == (3, 3)
    assert out.pose_6d.shape == (3, 24, 6)
    assert out.features is not None and out.features.shape == (3, 64, 4, 3)
    assert [t.shape for t in out.as_tuple()] == [out.rotmats.shape, out.betas.shape, out.cam.shape]


def test_full_grid_is_16_by_12() -> None:
    assert FULL.grid == (16, 12) and FULL.crop_margin == 32 and FULL.pose_dim == 144


def test_rotations_are_proper_and_pose_6d_is_ours(tiny: HMR2) -> None:
    with torch.no_grad():
        out = tiny(torch.randn(4, 3, 64, 48))
    R = out.rotmats.double()
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    assert torch.allclose(R.transpose(-1, -2) @ R, eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(R), torch.ones(4, 24, dtype=R.dtype), atol=1e-5)
    assert torch.equal(out.pose_6d, matrix_to_rotation_6d(out.rotmats))


def test_mean_pose_uses_upstream_column_layout() -> None:
    """With zero read-outs the prediction is the mean: a 6D vector laid out as upstream's
    ``rot6d_to_rotmat`` reads it ([column 0, column 1]) must come back as that exact matrix."""
    model = random_hmr2(TINY)
    R = axis_angle_to_matrix(torch.randn(24, 3))
    upstream_6d = torch.cat([R[:, :, 0], R[:, :, 1]], dim=-1).reshape(1, 144)
    with torch.no_grad():
        for lin in (model.head.pose_out, model.head.betas_out, model.head.cam_out):
            lin.weight.zero_()
            lin.bias.zero_()
        model.head.mean_pose.copy_(upstream_6d)
        out = model(torch.randn(2, 3, 64, 48))
    assert torch.allclose(out.rotmats, R.expand(2, -1, -1, -1), atol=1e-6)
    assert torch.equal(out.betas, model.head.mean_betas.expand(2, -1))
    assert torch.equal(out.cam, model.head.mean_cam.expand(2, -1))


def test_default_mean_parameters_are_identity() -> None:
    model = HMR2(TINY)
    with torch.no_grad():
        for lin in (model.head.pose_out, model.head.betas_out, model.head.cam_out):
            lin.weight.zero_()
            lin.bias.zero_()
        out = model(torch.randn(1, 3, 64, 48))
    assert torch.allclose(out.rotmats, torch.eye(3).expand(1, 24, 3, 3))
    assert torch.equal(out.cam, torch.tensor([[1.0, 0.0, 0.0]]))


def test_wrong_input_size_is_refused(tiny: HMR2) -> None:
    with pytest.raises(ValueError, match=r"expects images \(B, 3, 64, 48\)"):
        tiny(torch.randn(1, 3, 64, 64))


def test_parameter_counts_match_upstream() -> None:
    """4D-Humans' ViT-H has 630.9M parameters and its head 39.5M (counted on upstream's code)."""
    with torch.device("meta"):
        model = HMR2(FULL)
    backbone = sum(p.numel() for p in model.backbone.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    assert round(backbone / 1e6, 1) == 630.9
    assert round(head / 1e6, 1) == 39.5


def test_config_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="divisible"):
        HMR2Config(width=100, heads=16)
    with pytest.raises(ValueError, match="middle columns"):
        HMR2Config(image_width=191, crop_size=256)
