"""Tests for evaluation/metrics.py: hand-computed values and invariances."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from stmocap.evaluation import metrics as M
from stmocap.models.rotations import quaternion_to_matrix


def _joints(seed: int, n: int = 4, j: int = 14) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, j, 3, generator=g, dtype=torch.float64) * 0.3


def test_mpjpe_hand_computed() -> None:
    gt = torch.zeros(1, 2, 3, dtype=torch.float64)
    pred = torch.tensor([[[0.003, 0.004, 0.0], [0.0, 0.0, 0.010]]], dtype=torch.float64)
    # Errors 5 mm and 10 mm → mean 7.5 mm.
    assert M.mpjpe(pred, gt).tolist() == pytest.approx([7.5])
    assert M.mpvpe(pred, gt).tolist() == pytest.approx([7.5])


def test_align_root() -> None:
    j = torch.tensor([[[1.0, 0, 0], [3.0, 0, 0], [2.0, 5.0, 0]]])
    out = M.align_root(j, (0, 1))
    assert out[0, 0].tolist() == [-1.0, 0.0, 0.0]
    assert out[0, 2].tolist() == [0.0, 5.0, 0.0]


@given(st.integers(0, 2**31 - 1), st.floats(0.2, 5.0), st.floats(-2.0, 2.0))
def test_pa_mpjpe_invariant_to_similarity(seed: int, scale: float, shift: float) -> None:
    gt = _joints(seed)
    noise = _joints(seed + 1) * 0.05
    pred = gt + noise
    base = M.pa_mpjpe(pred, gt)
    R = quaternion_to_matrix(torch.randn(4, 4, generator=torch.Generator().manual_seed(seed),
                                         dtype=torch.float64))
    moved = scale * pred @ R.transpose(-1, -2) + shift
    torch.testing.assert_close(M.pa_mpjpe(moved, gt), base, atol=1e-8, rtol=1e-8)
    # Procrustes minimises the summed *squared* error: it never raises that (mean Euclidean
    # error, MPJPE itself, can rise slightly, so that is not the property).
    def sq(p: torch.Tensor) -> torch.Tensor:
        return (p - gt).square().sum(dim=(-1, -2))

    assert bool((sq(M.similarity_procrustes(pred, gt)) <= sq(pred) + 1e-12).all())


def test_pa_mpjpe_recovers_exact_similarity() -> None:
    gt = _joints(7)
    R = quaternion_to_matrix(torch.tensor([[0.3, -0.5, 0.2, 0.8]], dtype=torch.float64))
    pred = 0.7 * gt @ R.transpose(-1, -2) + torch.tensor([0.1, -0.4, 2.0], dtype=torch.float64)
    assert float(M.pa_mpjpe(pred, gt).max()) < 1e-9
    # A mirror image is not a rotation: Procrustes must not cancel it.
    mirrored = gt * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert float(M.pa_mpjpe(mirrored, gt).min()) > 1.0


def test_accel_error_hand_computed() -> None:
    # One joint moving with constant acceleration 2 mm/frame² along x; gt at rest.
    t = torch.arange(5, dtype=torch.float64)
    pred = torch.zeros(5, 1, 3, dtype=torch.float64)
    pred[:, 0, 0] = 0.001 * t * t
    gt = torch.zeros_like(pred)
    err = M.accel_error(pred, gt)
    assert err.shape == (3,)
    assert err.tolist() == pytest.approx([2.0, 2.0, 2.0])
    assert M.accel_magnitude(pred).tolist() == pytest.approx([2.0, 2.0, 2.0])


@given(st.integers(0, 2**31 - 1), st.floats(-3.0, 3.0))
def test_accel_error_zero_for_constant_offset(seed: int, offset: float) -> None:
    gt = _joints(seed, n=10)
    assert float(M.accel_error(gt + offset, gt).abs().max()) < 1e-9
    # A constant-velocity drift adds no acceleration either.
    drift = torch.arange(10, dtype=torch.float64)[:, None, None] * 0.01
    assert float(M.accel_error(gt + drift, gt).abs().max()) < 1e-9


def test_accel_error_valid_mask_drops_touching_frames() -> None:
    gt = _joints(1, n=6)
    pred = gt + _joints(2, n=6) * 0.1
    valid = torch.tensor([True, True, True, False, True, True])
    full = M.accel_error(pred, gt)
    masked = M.accel_error(pred, gt, valid)
    # Accelerations centred on frames 1..4; those touching frame 3 (centres 2, 3, 4) are dropped.
    torch.testing.assert_close(masked, full[:1])


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="must both be"):
        M.mpjpe(torch.zeros(2, 3, 3), torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match="at least 3 frames"):
        M.accel_error(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3))


def test_j14_indices() -> None:
    assert len(M.H36M_TO_J14) == 14
    assert sorted(M.H36M_TO_J17) == list(range(17))
