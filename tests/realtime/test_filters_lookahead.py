"""The One-Euro filter given a lookahead: causal at L = 0, less lag with L > 0, reads no frame
after t + L."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.models.rotations import axis_angle_to_matrix
from stmocap.realtime.filters import FilterConfig, OneEuroRotations, OneEuroVector, one_euro_lookahead


def _ramp(n: int, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One joint turning at 2 rad/s about x, with optional noise; betas ramping too."""
    g = np.random.default_rng(seed)
    t = np.arange(n) / 30.0
    aa = np.zeros((n, 2, 3))
    aa[:, 0, 0] = 2.0 * t + noise * g.normal(size=n)
    R = axis_angle_to_matrix(torch.from_numpy(aa)).numpy()
    betas = np.stack([t, -t], axis=1) + noise * g.normal(size=(n, 2))
    return R, betas, t


def _angle(R: np.ndarray) -> np.ndarray:
    return np.arctan2(R[..., 0, 2, 1], R[..., 0, 1, 1])


def test_lookahead_zero_is_the_causal_filter() -> None:
    R, b, t = _ramp(40, noise=0.05)
    cfg = FilterConfig()
    fr, fb = OneEuroRotations(cfg), OneEuroVector(cfg)
    causal_r = np.stack([fr(R[i], t[i]) for i in range(40)])
    causal_b = np.stack([fb(b[i], t[i]) for i in range(40)])
    got_r, got_b = one_euro_lookahead(R, b, t, 0, cfg)
    np.testing.assert_allclose(got_r, causal_r, atol=1e-9)
    np.testing.assert_allclose(got_b, causal_b, atol=1e-9)


def test_lookahead_cuts_the_lag_of_a_steady_turn() -> None:
    R, b, t = _ramp(60)
    cfg = FilterConfig(min_cutoff=1.5, beta=0.0)  # a plain low-pass: lag is all it adds
    truth = 2.0 * t
    def lag(L: int) -> float:
        err = _angle(one_euro_lookahead(R, b, t, L, cfg)[0]) - truth
        return float(np.abs(np.angle(np.exp(1j * err)))[20:50].mean())  # wrapped to (-π, π]

    lag0, lag7 = lag(0), lag(7)
    assert lag7 < 0.5 * lag0, (lag0, lag7)


@settings(max_examples=20, deadline=None)
@given(L=st.integers(0, 6), t0=st.integers(0, 20))
def test_no_frame_after_t_plus_lookahead_is_read(L: int, t0: int) -> None:
    R, b, t = _ramp(30, noise=0.1, seed=1)
    cfg = FilterConfig()
    full_r, full_b = one_euro_lookahead(R, b, t, L, cfg)
    cut = t0 + L + 1
    part_r, part_b = one_euro_lookahead(R[:cut], b[:cut], t[:cut], L, cfg)
    np.testing.assert_allclose(part_r[t0], full_r[t0], atol=1e-9)
    np.testing.assert_allclose(part_b[t0], full_b[t0], atol=1e-9)
    assert np.allclose(np.swapaxes(full_r, -1, -2) @ full_r, np.eye(3), atol=1e-6)  # rotations
