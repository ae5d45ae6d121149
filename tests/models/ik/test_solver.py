"""Inverse kinematics on synthetic truth: random plausible SMPL poses → landmarks → IK."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stmocap.models.body.model import LBSBody
from stmocap.models.body.synthetic import make_synthetic_body
from stmocap.models.ik.correspondence import joint_targets, landmarks_from_joints
from stmocap.models.ik.solver import IKConfig, IKSolver, fit_weak_perspective
from stmocap.models.rotations import axis_angle_to_matrix

HINGES = ((4, 0, 1.0), (5, 0, 1.0), (18, 1, -1.0), (19, 1, 1.0))


def random_poses(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Plausible poses: upright-ish root facing the camera, moderate joint angles, hinges bending
    the right way, a mildly curved spine; shapes β ~ N(0, 0.7²)."""
    g = torch.Generator().manual_seed(seed)
    aa = torch.randn(n, 24, 3, generator=g) * 0.25
    aa[:, 0] = torch.randn(n, 3, generator=g) * 0.3 + torch.tensor([np.pi, 0.0, 0.0])
    for j, axis, sign in HINGES:
        aa[:, j] = 0.0
        aa[:, j, axis] = sign * torch.rand(n, generator=g) * 1.5
    aa[:, [3, 6, 9]] *= 0.4
    return aa, torch.randn(n, 10, generator=g) * 0.7


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    data = make_synthetic_body()
    body = LBSBody(data)
    aa, betas = random_poses(32, seed=3)
    out = body(axis_angle_to_matrix(aa), betas)
    joints = out.joints - out.joints[:, :1]
    return data, body, joints


def _solve(data, joints, noise: float = 0.0, drop: tuple[int, ...] = (), seed: int = 0):  # type: ignore[no-untyped-def]
    lm = landmarks_from_joints(joints.numpy(), ear_offset=np.array([0.07, 0.0, 0.0]))
    vis = np.ones(lm.shape[:2])
    vis[:, list(drop)] = 0.0
    targets, weights = joint_targets(lm, vis)
    g = torch.Generator().manual_seed(seed)
    t = torch.from_numpy(targets).float()
    t = t + noise * torch.randn(t.shape, generator=g)
    return IKSolver(data, IKConfig(iterations=60))(t, torch.from_numpy(weights).float())


def test_recovers_joints_without_noise(setup) -> None:  # type: ignore[no-untyped-def]
    data, _, joints = setup
    res = _solve(data, joints)
    mpjpe = (res.joints - joints).norm(dim=-1).mean().item() * 1000
    assert mpjpe < 15.0, mpjpe
    # Rotations are proper and hinges bend only their own way.
    det = torch.linalg.det(res.rotmats)
    torch.testing.assert_close(det, torch.ones_like(det), atol=1e-4, rtol=0)


@pytest.mark.parametrize(("noise", "bound_mm"), [(0.01, 25.0), (0.03, 45.0)])
def test_degrades_gracefully_with_noise(setup, noise: float, bound_mm: float) -> None:  # type: ignore[no-untyped-def]
    data, _, joints = setup
    res = _solve(data, joints, noise=noise)
    mpjpe = (res.joints - joints).norm(dim=-1).mean().item() * 1000
    assert mpjpe < bound_mm, mpjpe


def test_missing_landmarks(setup) -> None:  # type: ignore[no-untyped-def]
    data, _, joints = setup
    # The left arm's landmarks are not visible: the rest of the body is still recovered.
    res = _solve(data, joints, drop=(13, 15, 17, 19))
    err = (res.joints - joints).norm(dim=-1) * 1000
    others = [j for j in range(24) if j not in (18, 20, 22)]
    assert err[:, others].mean().item() < 20.0


def test_weak_perspective_fit_is_exact_for_orthographic_points() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(0, 0.3, (24, 3))
    s, tx, ty = 0.8, 0.05, -0.1
    pix = s * (pts[:, :2] + [tx, ty])
    cam = fit_weak_perspective(pts, pix, np.ones(24))
    np.testing.assert_allclose(cam, [s, tx, ty], atol=1e-5)
