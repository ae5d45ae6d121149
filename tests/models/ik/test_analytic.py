"""Closed-form IK: limb directions kept exactly (aim 1), chain ends pulled onto their targets
(aim < 1), torch swing agreed with, β from bone lengths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.models.body.model import LBSBody
from stmocap.models.body.synthetic import make_synthetic_body
from stmocap.models.ik.analytic import AnalyticSolver, align, best_rotation
from stmocap.models.ik.correspondence import joint_targets, landmarks_from_joints
from stmocap.models.ik.solver import SWING, IKSolver
from stmocap.models.rotations import axis_angle_to_matrix

DATA = make_synthetic_body()
BODY = LBSBody(DATA)
SOLVER = IKSolver(DATA)


def _targets(seed: int, n: int = 8, shape_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets of ``n`` bodies in random poses (any root orientation, joints within ±0.6 rad per
    axis) and shapes β ~ N(0, shape_scale²); their weights and the true β."""
    g = torch.Generator().manual_seed(seed)
    aa = (torch.rand(n, 24, 3, generator=g) * 2 - 1) * 0.6
    aa[:, 0] = torch.randn(n, 3, generator=g) * 2.0
    betas = torch.randn(n, 10, generator=g) * shape_scale
    out = BODY(axis_angle_to_matrix(aa), betas)
    joints = (out.joints - out.joints[:, :1]).double().numpy()
    targets, weights = joint_targets(landmarks_from_joints(joints))
    return targets, weights, betas.double().numpy()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=6, max_size=6).filter(
    lambda v: np.linalg.norm(v[:3]) > 1e-3 and np.linalg.norm(v[3:]) > 1e-3))
def test_align_is_the_rotation_onto_the_target(v: list[float]) -> None:
    a, b = np.array(v[:3]), np.array(v[3:])
    R = align(a, b)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) > 0
    np.testing.assert_allclose(R @ (a / np.linalg.norm(a)), b / np.linalg.norm(b), atol=1e-7)
    # opposite directions: still a proper rotation that maps a onto −a
    Rn = align(a, -a)
    np.testing.assert_allclose(Rn @ a, -a, atol=1e-9)
    assert np.linalg.det(Rn) > 0


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000))
def test_every_swung_bone_points_at_its_target(seed: int) -> None:
    """The posed skeleton's bones whose two ends have targets point exactly along them
    (BlazePose's limb directions are kept with ``aim = 1``), whatever the shape."""
    targets, weights, _ = _targets(seed)
    solver = AnalyticSolver(SOLVER.skeleton, aim=1.0)
    for t, w in zip(targets, weights, strict=True):
        sol = solver(t, w)
        for j, c in SWING:
            if w[j] == 0:  # the neck has no landmark: it starts where the skeleton puts it
                continue
            got = sol.joints[c] - sol.joints[j]
            want = t[c] - t[j]
            cos = got @ want / (np.linalg.norm(got) * np.linalg.norm(want))
            assert cos > 1 - 1e-9, (j, c, cos)
        np.testing.assert_allclose(np.linalg.det(sol.rotmats), 1.0, atol=1e-9)


def test_exact_for_a_straight_spine_and_matches_the_body_model() -> None:
    """A body whose spine, neck and collars are straight (every other joint and the root posed at
    random) is recovered exactly with β = 0: the rigid torso gives the root, the bones the rest.
    ``model_joints`` are what the body model returns for the solved rotations."""
    g = torch.Generator().manual_seed(5)
    aa = (torch.rand(8, 24, 3, generator=g) * 2 - 1) * 0.8
    aa[:, 0] = torch.randn(8, 3, generator=g) * 2.0
    aa[:, [3, 6, 9, 12, 13, 14]] = 0.0
    out = BODY(axis_angle_to_matrix(aa), torch.zeros(8, 10))
    joints = (out.joints - out.joints[:, :1]).double().numpy()
    targets, weights = joint_targets(landmarks_from_joints(joints))
    solver = AnalyticSolver(SOLVER.skeleton, shape_ridge=None)
    for t, w, truth in zip(targets, weights, joints, strict=True):
        sol = solver(t, w)
        np.testing.assert_allclose(sol.joints, truth, atol=1e-5)
        np.testing.assert_allclose(sol.betas, 0.0)
        with torch.no_grad():
            posed = BODY(torch.from_numpy(sol.rotmats)[None].float(), torch.zeros(1, 10)).joints[0]
        np.testing.assert_allclose(sol.model_joints, posed.double().numpy(), atol=1e-5)
        # the offset puts the root-relative joints onto the targets on average
        np.testing.assert_allclose(((sol.joints - t) * w[:, None]).sum(0), 0.0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_best_rotation_recovers_a_rotation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    R = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    R *= np.sign(np.linalg.det(R))
    src = rng.normal(size=(4, 3))
    w = rng.uniform(0.25, 1.0, size=4)
    np.testing.assert_allclose(best_rotation(src, src @ R.T + rng.normal(size=3), w), R, atol=1e-8)


def test_shape_from_bone_lengths() -> None:
    """Bone lengths of a body with β ≠ 0 pull β towards the truth: the fitted bones are nearer
    the true lengths than the mean body's, and the posed joints nearer the truth."""
    targets, weights, betas = _targets(11, n=16, shape_scale=2.0)
    shaped = AnalyticSolver(SOLVER.skeleton, shape_ridge=1e-3)
    mean = AnalyticSolver(SOLVER.skeleton, shape_ridge=None)
    err_shaped = err_mean = 0.0
    for t, w in zip(targets, weights, strict=True):
        err_shaped += np.linalg.norm(shaped(t, w).joints - t, axis=-1)[w > 0].mean()
        err_mean += np.linalg.norm(mean(t, w).joints - t, axis=-1)[w > 0].mean()
    assert err_shaped < 0.7 * err_mean, (err_shaped, err_mean)
    fitted = np.stack([shaped(t, w).betas for t, w in zip(targets, weights, strict=True)])
    # β is not identifiable from the 13 bones alone, but it points the truth's way
    cos = (fitted * betas).sum(-1) / (np.linalg.norm(fitted, axis=-1) * np.linalg.norm(betas, axis=-1))
    assert np.median(cos) > 0.3, cos


def test_a_given_shape_is_kept_and_fits_its_own_body() -> None:
    """``betas=`` (a stated height) replaces the bone-length fit: every frame gets that β, and on
    targets of that very body the posed joints lie nearer them than the mean body's do."""
    targets, weights, betas = _targets(5, n=4, shape_scale=1.5)
    for t, w, b in zip(targets, weights, betas, strict=True):
        sol = AnalyticSolver(SOLVER.skeleton, betas=b)(t, w)
        np.testing.assert_allclose(sol.betas, b)
        mean = AnalyticSolver(SOLVER.skeleton, shape_ridge=None)(t, w)
        err = np.linalg.norm(sol.joints - t, axis=-1)[w > 0].mean()
        assert err < 0.8 * np.linalg.norm(mean.joints - t, axis=-1)[w > 0].mean()
    short = AnalyticSolver(SOLVER.skeleton, betas=betas[0][:3])(targets[0], weights[0]).betas
    np.testing.assert_allclose(short, [*betas[0][:3], *[0.0] * 7])  # fewer components: the rest 0


def _noisy(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets whose points each moved by N(0, 3 cm) (BlazePose-like: positions regressed
    independently, so bone directions carry errors that add up down a chain)."""
    targets, weights, _ = _targets(seed, n=16)
    rng = np.random.default_rng(seed)
    return targets + rng.normal(scale=0.03, size=targets.shape) * (weights[..., None] > 0), weights


def test_aiming_pulls_the_chain_ends_onto_their_targets() -> None:
    """With noisy targets, keeping every bone direction (aim 1) lets the errors accumulate to the
    wrists and ankles; aiming half at the child's target (the default) lands them nearer."""
    targets, weights = _noisy(3)
    ends = [7, 8, 20, 21]  # ankles, wrists
    kept = AnalyticSolver(SOLVER.skeleton, aim=1.0)
    aimed = AnalyticSolver(SOLVER.skeleton)
    assert aimed.aim == 0.5
    e_kept = np.mean([np.linalg.norm(kept(t, w).joints[ends] - t[ends], axis=-1).mean()
                      for t, w in zip(targets, weights, strict=True)])
    e_aimed = np.mean([np.linalg.norm(aimed(t, w).joints[ends] - t[ends], axis=-1).mean()
                       for t, w in zip(targets, weights, strict=True)])
    assert e_aimed < 0.8 * e_kept, (e_aimed, e_kept)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.0, 1.0))
def test_any_aim_is_exact_on_exact_targets(aim: float) -> None:
    """Where the targets are a straight-spined body's own joints, the chain's joint is the target,
    both directions agree, and every aim recovers the body."""
    g = torch.Generator().manual_seed(9)
    aa = (torch.rand(4, 24, 3, generator=g) * 2 - 1) * 0.8
    aa[:, [3, 6, 9, 12, 13, 14]] = 0.0
    out = BODY(axis_angle_to_matrix(aa), torch.zeros(4, 10))
    joints = (out.joints - out.joints[:, :1]).double().numpy()
    targets, weights = joint_targets(landmarks_from_joints(joints))
    solver = AnalyticSolver(SOLVER.skeleton, shape_ridge=None, aim=aim)
    for t, w, truth in zip(targets, weights, joints, strict=True):
        np.testing.assert_allclose(solver(t, w).joints, truth, atol=1e-5)


def test_aim_out_of_range_is_refused() -> None:
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="aim"):
            AnalyticSolver(SOLVER.skeleton, aim=bad)
