"""Tests for evaluation/linear_bound.py: known filters recovered, causality, the objective's two ends."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.evaluation import linear_bound as LB
from stmocap.evaluation.metrics import accel_error, mpjpe


def _walk(seed: int, T: int = 120, J: int = 5) -> np.ndarray:
    """A smooth random trajectory ``(T, J, 3)`` metres."""
    rng = np.random.default_rng(seed)
    return np.cumsum(np.cumsum(rng.normal(0, 0.002, (T, J, 3)), 0), 0)


def _score(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    p, g = torch.from_numpy(pred), torch.from_numpy(gt)
    return float(mpjpe(p, g).mean()), float(accel_error(p, g).mean())


def test_shifted_stack_layout() -> None:
    x = np.arange(5.0)[:, None]  # (T=5, 1)
    s = LB.shifted_stack(x, history=2, lookahead=1)  # columns: x_{t+1}, x_t, x_{t-1}, x_{t-2}
    assert s.shape == (5, 1, 4)
    assert s[2, 0].tolist() == [3.0, 2.0, 1.0, 0.0]
    assert s[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0]  # before the clip: the first frame repeated
    assert s[4, 0].tolist() == [4.0, 4.0, 3.0, 2.0]  # after it: the last


def test_causal_taps_never_read_the_future() -> None:
    x = _walk(0)
    taps = np.array([0.5, 0.3, 0.2])
    y = LB.apply_taps(x, taps, lookahead=0)
    x2 = x.copy()
    x2[60:] += 1.0
    y2 = LB.apply_taps(x2, taps, lookahead=0)
    assert np.array_equal(y[:60], y2[:60]) and not np.allclose(y[60:], y2[60:])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(0.05, 1.0), min_size=2, max_size=5), st.integers(0, 2), st.integers(0, 10**6))
def test_recovers_the_filter_that_made_the_truth(raw: list[float], lookahead: int, seed: int) -> None:
    """If the truth is a filtered copy of the estimates, that filter scores zero and is found."""
    true_taps = np.array(raw) / sum(raw)
    if lookahead >= len(true_taps):
        lookahead = 0
    x = _walk(seed) + np.random.default_rng(seed + 1).normal(0, 0.01, (120, 5, 3))
    gt = LB.apply_taps(x, true_taps, lookahead)
    got = LB.fit_taps([(x, gt)], history=len(true_taps) - lookahead - 1, lookahead=lookahead,
                      accel_weight=1.0)
    np.testing.assert_allclose(got, true_taps, atol=1e-4)
    assert abs(got.sum() - 1.0) < 1e-9


def test_exact_estimates_keep_the_identity() -> None:
    gt = _walk(3)
    taps = LB.fit_taps([(gt.copy(), gt)], history=6, accel_weight=0.5)
    np.testing.assert_allclose(taps, np.eye(7)[0], atol=1e-6)


def test_the_two_ends_of_the_trade() -> None:
    """λ = 0: never less accurate than the raw estimates; a large λ: much smoother than them."""
    gt = _walk(7, T=300)
    noisy = gt + np.random.default_rng(8).normal(0, 0.02, gt.shape)
    raw_mpjpe, raw_acc = _score(noisy, gt)
    accurate = LB.apply_taps(noisy, LB.fit_taps([(noisy, gt)], history=8), 0)
    smooth = LB.apply_taps(noisy, LB.fit_taps([(noisy, gt)], history=8, accel_weight=20.0), 0)
    a_mpjpe, a_acc = _score(accurate, gt)
    s_mpjpe, s_acc = _score(smooth, gt)
    assert a_mpjpe <= raw_mpjpe  # white noise on a slow walk: averaging helps both
    assert s_acc < 0.3 * raw_acc and s_acc < a_acc
    assert a_mpjpe <= s_mpjpe


def test_clips_are_fitted_apart() -> None:
    """A clip moved 10 m away gives the same taps (they sum to one, and no acceleration is taken
    across the seam between clips), and so does swapping the clips' order."""
    a, b = _walk(1, T=80), _walk(2, T=90)
    na = a + np.random.default_rng(3).normal(0, 0.01, a.shape)
    nb = b + np.random.default_rng(4).normal(0, 0.01, b.shape)
    one = LB.fit_taps([(na, a), (nb, b)], history=4, accel_weight=2.0)
    moved = LB.fit_taps([(na, a), (nb + 10.0, b + 10.0)], history=4, accel_weight=2.0)
    swapped = LB.fit_taps([(nb, b), (na, a)], history=4, accel_weight=2.0)
    np.testing.assert_allclose(moved, one, atol=1e-7)
    np.testing.assert_allclose(swapped, one, atol=1e-8)


def test_bad_input_is_refused() -> None:
    import pytest
    with pytest.raises(ValueError, match="no clips"):
        LB.fit_taps([], history=2)
    with pytest.raises(ValueError, match=r"\(T, J, 3\)"):
        LB.fit_taps([(np.zeros((5, 2, 3)), np.zeros((5, 2, 2)))], history=2)
    with pytest.raises(ValueError, match="lookahead"):
        LB.apply_taps(np.zeros((5, 1, 3)), np.array([1.0]), lookahead=2)
