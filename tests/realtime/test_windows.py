"""Tests for realtime/windows.py: which windows exist and which shape each frame."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stmocap.realtime.windows import (
    WindowPlan,
    all_windows,
    contributing_windows,
    position_weights,
    tail_windows,
    window_frame_indices,
    window_ready_at,
    windows_containing,
)


@st.composite
def plans(draw: st.DrawFn) -> WindowPlan:
    W = draw(st.integers(1, 20))
    L = draw(st.integers(0, W - 1))
    S = draw(st.integers(1, min(W, L + 1)))
    return WindowPlan(window=W, stride=S, lookahead=L,
                      weights=draw(st.sampled_from(["uniform", "centre"])))


def test_paper_setting_non_overlapping() -> None:
    plan = WindowPlan(window=16, stride=16, lookahead=15)
    assert all_windows(40, plan) == [0, 16, 32]
    assert tail_windows(40, plan) == [32]
    assert contributing_windows(0, 40, plan) == [0]
    assert contributing_windows(17, 40, plan) == [16]
    assert window_ready_at(15, plan) == 0
    assert window_ready_at(16, plan) is None


def test_causal_every_frame() -> None:
    plan = WindowPlan(window=4, stride=1, lookahead=0)
    # Frame 0 is covered by the window ending at 0, which starts 3 frames before the stream.
    assert contributing_windows(0, 10, plan) == [-3]
    assert window_frame_indices(-3, 10, plan) == [0, 0, 0, 0]
    assert contributing_windows(5, 10, plan) == [2]
    # At the end of the stream, L = 0 still uses only the window that ends at the frame.
    assert contributing_windows(9, 10, plan) == [6]


def test_lookahead_adds_windows() -> None:
    plan = WindowPlan(window=4, stride=1, lookahead=2)
    assert contributing_windows(5, 20, plan) == [2, 3, 4]
    # Near the end, padded tail windows join once the stream has ended.
    assert contributing_windows(18, 20, plan) == [15, 16, 17, 18]
    assert window_frame_indices(18, 20, plan) == [18, 19, 19, 19]


def test_short_stream() -> None:
    plan = WindowPlan(window=16, stride=16, lookahead=15)
    assert all_windows(5, plan) == [0]
    assert tail_windows(5, plan) == [0]
    assert [contributing_windows(t, 5, plan) for t in range(5)] == [[0]] * 5
    assert window_frame_indices(0, 5, plan) == [0, 1, 2, 3, 4] + [4] * 11


def test_weights() -> None:
    assert position_weights(WindowPlan(window=4, stride=1, lookahead=0, weights="uniform")) == [
        1.0, 1.0, 1.0, 1.0]
    assert position_weights(WindowPlan(window=5, stride=1, lookahead=0)) == [1, 2, 3, 2, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": 16, "stride": 0}, "stride"),
        ({"window": 16, "stride": 17, "lookahead": 15}, "stride"),
        ({"window": 16, "lookahead": 16}, "lookahead"),
        ({"window": 16, "stride": 4, "lookahead": 2}, "stride 4 with lookahead 2"),
        ({"window": 0}, "window"),
    ],
)
def test_invalid_plans(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        WindowPlan(**kwargs)


@given(plans(), st.integers(1, 60))
def test_every_frame_has_a_window_within_lookahead(plan: WindowPlan, n: int) -> None:
    existing = set(all_windows(n, plan))
    for t in range(n):
        starts = contributing_windows(t, n, plan)
        assert starts, f"frame {t} has no window"
        assert set(starts) <= existing
        for s in starts:
            assert s <= t <= s + plan.window - 1
            assert s % plan.stride == 0
            # Complete by frame t + L, unless t is finalised at the end of the stream.
            assert s + plan.window - 1 <= t + plan.lookahead or t + plan.lookahead > n - 1


@given(plans(), st.integers(1, 60))
def test_windows_ready_during_stream_plus_tail_are_all_windows(plan: WindowPlan, n: int) -> None:
    ready = [window_ready_at(f, plan) for f in range(n)]
    streamed = [s for s in ready if s is not None]
    assert streamed + tail_windows(n, plan) == all_windows(n, plan)
    for t in range(n):
        assert set(windows_containing(t, n, plan)) <= set(all_windows(n, plan))
