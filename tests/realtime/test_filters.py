"""One-Euro filters: still signals stay, noise shrinks, fast motion passes, rotations stay proper."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from stmocap.models.rotations import axis_angle_to_matrix, geodesic_angle, quaternion_to_matrix
from stmocap.realtime.filters import FilterConfig, OneEuroRotations, OneEuroVector

CFG = FilterConfig()


def test_constant_vector_is_unchanged_and_noise_is_reduced() -> None:
    f = OneEuroVector(CFG)
    for i in range(30):
        out = f(np.array([1.0, -2.0]), i / 30)
    np.testing.assert_allclose(out, [1.0, -2.0])
    rng = np.random.default_rng(0)
    f = OneEuroVector(CFG)
    noisy = 0.5 + 0.05 * rng.standard_normal((300, 1))
    smooth = np.array([f(x, i / 30) for i, x in enumerate(noisy)])
    assert smooth[50:].std() < 0.5 * noisy[50:].std()


def test_fast_motion_lags_less_with_higher_beta() -> None:
    ramp = [np.array([3.0 * i / 30]) for i in range(60)]  # 3 units per second
    lags = []
    for beta in (0.0, 5.0):
        f = OneEuroVector(FilterConfig(beta=beta))
        out = [f(x, i / 30) for i, x in enumerate(ramp)]
        lags.append(float(ramp[-1][0] - out[-1][0]))
    assert 0 < lags[1] < lags[0]


def test_uses_real_timestamps() -> None:
    # The same samples over a longer time step are followed more closely (larger α).
    a, b = OneEuroVector(CFG), OneEuroVector(CFG)
    a(np.zeros(1), 0.0)
    b(np.zeros(1), 0.0)
    assert a(np.ones(1), 1 / 30)[0] < b(np.ones(1), 0.5)[0]


@given(st.integers(0, 2**31 - 1))
def test_rotations_stay_proper_and_follow_a_turn(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    R0 = quaternion_to_matrix(torch.randn(3, 4, generator=g, dtype=torch.float64))
    axis = torch.nn.functional.normalize(torch.randn(3, 3, generator=g, dtype=torch.float64), dim=-1)
    f = OneEuroRotations(CFG)
    for i in range(90):  # a steady turn at 1 rad/s, then the filter must have caught up
        R = R0 @ axis_angle_to_matrix(axis * (i / 30))
        out = torch.from_numpy(f(R.numpy(), i / 30))
    det = torch.linalg.det(out)
    torch.testing.assert_close(det, torch.ones_like(det), atol=1e-9, rtol=0)
    torch.testing.assert_close(out @ out.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(3, 3, 3),
                               atol=1e-9, rtol=0)
    assert float(geodesic_angle(out, R).max()) < 0.35  # lag under a third of a second


def test_rotation_noise_is_reduced() -> None:
    g = torch.Generator().manual_seed(1)
    base = axis_angle_to_matrix(torch.tensor([[0.3, 0.2, -0.1]], dtype=torch.float64))
    f = OneEuroRotations(CFG)
    raw_err, filt_err = [], []
    for i in range(200):
        noise = axis_angle_to_matrix(0.03 * torch.randn(1, 3, generator=g, dtype=torch.float64))
        R = base @ noise
        out = torch.from_numpy(f(R.numpy(), i / 30))
        if i > 30:
            raw_err.append(float(geodesic_angle(R, base)[0]))
            filt_err.append(float(geodesic_angle(out, base)[0]))
    assert np.mean(filt_err) < 0.6 * np.mean(raw_err)


def _rotations(seed: int, T: int = 40, J: int = 3) -> np.ndarray:
    """A smooth random turn of ``J`` joints, ``(T, J, 3, 3)``."""
    rng = np.random.default_rng(seed)
    aa = np.cumsum(rng.normal(0, 0.05, (T, J, 3)), 0)
    return axis_angle_to_matrix(torch.from_numpy(aa)).numpy()


def test_taps_smoother_is_the_fitted_filter_frame_by_frame() -> None:
    """The graph's smoother gives, on each frame as it comes, what linear_bound.apply_taps gives on
    the whole sequence (the fit's own filter: first frame repeated into the past), through 6D."""
    from stmocap.evaluation.linear_bound import apply_taps
    from stmocap.models.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
    from stmocap.models.temporal.taps import Taps
    from stmocap.realtime.filters import TapsSmoother

    rot = _rotations(0)
    lin = np.random.default_rng(1).normal(0, 1, (40, 16))
    w = np.array([0.5, 0.3, 0.15, 0.05, 0.1, -0.1])
    smoother = TapsSmoother(Taps(w))
    got = [smoother(rot[t], lin[t]) for t in range(40)]
    six = matrix_to_rotation_6d(torch.from_numpy(rot)).numpy()
    want_rot = rotation_6d_to_matrix(torch.from_numpy(apply_taps(six, w, 0))).numpy()
    np.testing.assert_allclose(np.stack([g[0] for g in got]), want_rot, atol=1e-10)
    np.testing.assert_allclose(np.stack([g[1] for g in got]), apply_taps(lin, w, 0), atol=1e-12)
    for R, _ in got:  # proper rotations
        np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape),
                                   atol=1e-10)
        assert np.allclose(np.linalg.det(R), 1.0)


def test_taps_smoother_identity_and_stillness() -> None:
    from stmocap.models.temporal.taps import Taps
    from stmocap.realtime.filters import TapsSmoother

    rot, lin = _rotations(2), np.random.default_rng(3).normal(0, 1, (40, 4))
    ident = TapsSmoother(Taps(np.array([1.0, 0.0, 0.0])))
    for t in range(40):
        r, v = ident(rot[t], lin[t])
        np.testing.assert_allclose(r, rot[t], atol=1e-10)
        np.testing.assert_allclose(v, lin[t])
    still = TapsSmoother(Taps(np.array([0.6, 0.6, -0.2])))
    for _ in range(5):  # a body that does not move stays where it is, overshooting taps or not
        r, v = still(rot[7], lin[7])
        np.testing.assert_allclose(r, rot[7], atol=1e-10)
        np.testing.assert_allclose(v, lin[7], atol=1e-12)


@pytest.mark.parametrize("frames", [40, 3, 1])
def test_taps_smoother_with_lookahead_is_the_fitted_filter_a_few_frames_late(frames: int) -> None:
    """Pushing frame t returns frame t − L; at the end, flush returns the rest with the last
    frame standing in for the future: the same as apply_taps on the whole sequence."""
    from stmocap.evaluation.linear_bound import apply_taps
    from stmocap.models.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
    from stmocap.models.temporal.taps import Taps
    from stmocap.realtime.filters import TapsSmoother

    rot = _rotations(5)[:frames]
    lin = np.random.default_rng(6).normal(0, 1, (frames, 13))
    w = np.array([0.2, 0.3, 0.35, 0.2, 0.1, -0.15])  # reads 2 frames ahead
    smoother = TapsSmoother(Taps(w, lookahead=2))
    got = []
    for t in range(frames):
        out = smoother.push(rot[t], lin[t])
        assert len(out) == (1 if t >= 2 else 0)
        got += out
    got += smoother.flush()
    assert len(got) == frames and smoother.flush() == []
    six = matrix_to_rotation_6d(torch.from_numpy(rot)).numpy()
    want_rot = rotation_6d_to_matrix(torch.from_numpy(apply_taps(six, w, 2))).numpy()
    np.testing.assert_allclose(np.stack([g[0] for g in got]), want_rot, atol=1e-10)
    np.testing.assert_allclose(np.stack([g[1] for g in got]), apply_taps(lin, w, 2), atol=1e-12)
    with pytest.raises(ValueError, match="use push"):
        smoother(rot[0], lin[0])
