"""The limb-direction loss term: known answers, and the same limbs the side-by-side scores."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.evaluation.shared_joints import LIMBS, SMPL_SHARED
from stmocap.training.losses import SMPL_LIMBS, limb_cosine_error


def test_the_limbs_are_the_ones_the_benchmark_scores() -> None:
    """SMPL's left/right shoulder→elbow, elbow→wrist, hip→knee, knee→ankle."""
    assert list(SMPL_LIMBS) == [(16, 18), (17, 19), (18, 20), (19, 21), (1, 4), (2, 5), (4, 7), (5, 8)]
    assert [(SMPL_SHARED[i], SMPL_SHARED[j]) for _, i, j in LIMBS] == list(SMPL_LIMBS)


def _joints(seed: int) -> torch.Tensor:
    return torch.randn(3, 24, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.2, 5.0))
def test_zero_for_the_truth_whatever_the_limb_lengths(seed: int, scale: float) -> None:
    """Directions only: the truth scaled about any point scores 0."""
    true = _joints(seed)
    pred = true[:, :1] + scale * (true - true[:, :1])
    assert torch.allclose(limb_cosine_error(pred, true), torch.zeros(3, dtype=torch.float64), atol=1e-12)


def test_one_limb_turned_by_a_known_angle() -> None:
    """Turning one forearm by θ about the elbow costs (1 − cos θ) / 8; opposite costs 2 / 8."""
    true = _joints(1)[:1]
    for theta in (math.pi / 2, math.pi / 3, math.pi):
        pred = true.clone()
        fore = true[0, 20] - true[0, 18]  # left elbow → wrist
        axis = torch.nn.functional.normalize(torch.linalg.cross(fore, torch.tensor([0.0, 0.0, 1.0],
                                                                                   dtype=fore.dtype)), dim=0)
        k = torch.tensor([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]],
                         dtype=fore.dtype)
        R = torch.eye(3, dtype=fore.dtype) + math.sin(theta) * k + (1 - math.cos(theta)) * k @ k
        pred[0, 20] = true[0, 18] + R @ fore
        got = float(limb_cosine_error(pred, true)[0])
        assert abs(got - (1 - math.cos(theta)) / 8) < 1e-9, (theta, got)


def test_it_has_a_gradient() -> None:
    true = _joints(2)
    pred = (true + 0.1 * torch.randn_like(true)).requires_grad_()
    limb_cosine_error(pred, true).sum().backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_params_loss_has_the_term_when_weighted() -> None:
    """Through the body model: a bent left knee costs the thigh nothing and the shin its angle."""
    from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_rotation_6d
    from stmocap.models.temporal.network import SMPLParams6D
    from stmocap.training.config import LossConfig
    from stmocap.training.losses import params_loss

    from .helpers import joint_model

    jm = joint_model()
    truth = torch.eye(3).repeat(1, 2, 24, 1, 1)
    pred = truth.clone()
    pred[0, 1, 4] = axis_angle_to_matrix(torch.tensor([0.5, 0.0, 0.0]))  # frame 1, left knee
    betas = torch.zeros(1, 2, 10)
    with torch.no_grad():
        t3 = jm(truth.flatten(0, 1), betas.flatten(0, 1)).unflatten(0, (1, 2))
    batch = {"t_joints3d": t3, "valid": torch.ones(1, 2, dtype=torch.bool)}
    params = SMPLParams6D(matrix_to_rotation_6d(pred), betas, torch.zeros(1, 2, 3))
    weight = torch.ones(1, 2)
    assert "limbs" not in params_loss(params, batch, weight, jm, LossConfig(joints3d=1.0))
    got = float(params_loss(params, batch, weight, jm, LossConfig(limbs=1.0))["limbs"])
    # The shin turns by 0.5 rad about x: cos = x² + (1 − x²) cos 0.5 for its unit vector's x part.
    shin = torch.nn.functional.normalize(t3[0, 0, 7] - t3[0, 0, 4], dim=0)
    cos = float(shin[0] ** 2 + (1 - shin[0] ** 2) * math.cos(0.5))
    assert abs(got - (1 - cos) / 8 / 2) < 1e-6, (got, cos)  # one limb of 8, one frame of 2
