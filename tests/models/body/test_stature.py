"""Standing height of a body and the least-norm shape of a stated height (the free body)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.body.stature import (
    betas_for_stature,
    check_person_height,
    skeleton_scale,
    stature,
)


def test_the_mean_body_is_its_own_answer(free_body: BodyModelData) -> None:
    mean = stature(free_body, np.zeros(10))
    assert 1.6 < mean < 1.8  # an adult
    np.testing.assert_allclose(betas_for_stature(free_body, mean), 0, atol=1e-6)
    assert skeleton_scale(free_body, np.zeros(10)) == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(st.floats(1.3, 2.1))
def test_the_height_is_reached_with_the_least_shape(free_body: BodyModelData, height: float) -> None:
    beta = betas_for_stature(free_body, height)
    assert stature(free_body, beta) == pytest.approx(height, abs=1e-3)
    # Least norm: any other β of that height lies farther from the mean. Step off β sideways
    # (orthogonal to it), then slide along β back onto the height (bisection): never shorter.
    if np.linalg.norm(beta) < 0.05:  # the mean body's height: β ≈ 0 is least by itself
        return
    rng = np.random.default_rng(int(height * 1e4))
    checked = 0
    for _ in range(5):
        d = rng.normal(size=10)
        d -= (d @ beta) / (beta @ beta) * beta
        side = beta + 0.3 * d / np.linalg.norm(d)
        lo, hi = -1.0, 1.0
        rising = stature(free_body, side + hi * beta) > stature(free_body, side + lo * beta)
        for _ in range(60):
            mid = (lo + hi) / 2
            above = stature(free_body, side + mid * beta) > height
            lo, hi = (lo, mid) if above == rising else (mid, hi)
        other = side + lo * beta
        if abs(stature(free_body, other) - height) < 1e-4:
            assert np.linalg.norm(other) >= np.linalg.norm(beta) - 1e-6
            checked += 1
    assert checked >= 3


def test_taller_bodies_have_larger_skeletons(free_body: BodyModelData) -> None:
    scales = [skeleton_scale(free_body, betas_for_stature(free_body, h)) for h in (1.4, 1.6, 1.8, 2.0)]
    assert scales == sorted(scales) and scales[0] < 0.9 and scales[-1] > 1.1
    # the skeleton grows about as the body does
    assert scales[-1] / scales[0] == pytest.approx(2.0 / 1.4, rel=0.05)


@pytest.mark.parametrize("bad", [175.0, 0.5, 3.0])
def test_heights_not_in_metres_are_refused(free_body: BodyModelData, bad: float) -> None:
    with pytest.raises(ValueError, match=r"in metres"):
        betas_for_stature(free_body, bad)
    with pytest.raises(ValueError, match=r"1\.75, not 175"):
        check_person_height(bad)
    check_person_height(0.0)  # unknown
    check_person_height(1.75)
