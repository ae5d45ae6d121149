"""mediapipe-style One-Euro smoothing of landmarks: still in, still out; scale-free; restarts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.models.blazepose.smoothing import LANDMARK_PARAMS, LandmarkOneEuro, aux_scale


def test_first_value_passes_and_constant_stays() -> None:
    f = LandmarkOneEuro(LANDMARK_PARAMS)
    x = np.array([[10.0, 20.0, 0.0]])
    np.testing.assert_array_equal(f(x, 0.0, 100.0), x)
    for k in range(1, 10):
        np.testing.assert_allclose(f(x, k / 30, 100.0), x)


def test_step_is_followed_gradually_and_time_going_back_restarts() -> None:
    f = LandmarkOneEuro(LANDMARK_PARAMS)
    f(np.zeros((1, 2)), 0.0, 100.0)
    out = [float(f(np.full((1, 2), 10.0), k / 30, 100.0)[0, 0]) for k in range(1, 30)]
    assert 0 < out[0] < 10 and all(b >= a for a, b in itertools.pairwise(out)) and out[-1] > 9
    np.testing.assert_array_equal(f(np.full((1, 2), 3.0), 0.5, 100.0), np.full((1, 2), 3.0))


@settings(max_examples=25, deadline=None)
@given(st.floats(0.2, 5.0), st.integers(0, 2**16))
def test_same_motion_relative_to_size_is_filtered_the_same(zoom: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path = np.cumsum(rng.normal(0, 2, (20, 5, 2)), axis=0) + 100
    near, far = LandmarkOneEuro(LANDMARK_PARAMS), LandmarkOneEuro(LANDMARK_PARAMS)
    size = (640, 480)
    for k, p in enumerate(path):
        a = near(p, k / 30, aux_scale(p / size, size))
        b = far(p * zoom, k / 30, aux_scale(p * zoom / size, size))
    np.testing.assert_allclose(b, a * zoom, rtol=1e-9, atol=1e-9)


def test_object_size_is_the_side_of_the_square_the_two_points_span() -> None:
    aux = np.array([[0.5, 0.5, 0.0], [0.5 + 30 / 640, 0.5 - 40 / 480, 0.0]])
    assert aux_scale(aux, (640, 480)) == pytest.approx(100.0)
