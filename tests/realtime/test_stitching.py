"""Tests for realtime/stitching.py: streaming equals offline; averaging is correct."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st
from stmocap.models.rotations import axis_angle_to_matrix, geodesic_angle, quaternion_to_matrix
from stmocap.realtime.stitching import StreamingStitcher, WindowParams, stitch_offline
from stmocap.realtime.windows import (
    WindowPlan,
    all_windows,
    tail_windows,
    window_ready_at,
)


@st.composite
def plans(draw: st.DrawFn) -> WindowPlan:
    W = draw(st.integers(1, 16))
    L = draw(st.integers(0, W - 1))
    S = draw(st.integers(1, min(W, L + 1)))
    return WindowPlan(window=W, stride=S, lookahead=L,
                      weights=draw(st.sampled_from(["uniform", "centre"])))


def _random_windows(n: int, plan: WindowPlan, seed: int, joints: int = 3, dim: int = 4
                    ) -> dict[int, WindowParams]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for s in all_windows(n, plan):
        q = torch.randn(plan.window, joints, 4, generator=g, dtype=torch.float64)
        lin = torch.randn(plan.window, dim, generator=g, dtype=torch.float64)
        out[s] = WindowParams(rotations=quaternion_to_matrix(q), linear=lin)
    return out


def _run_streaming(windows: dict[int, WindowParams], n: int, plan: WindowPlan):
    stitcher = StreamingStitcher(plan)
    emitted = []
    for f in range(n):
        start = window_ready_at(f, plan)
        if start is None:
            emitted += stitcher.advance(f)
        else:
            emitted += stitcher.push(start, windows[start])
        # Never later than the lookahead allows: frame f - L is out once frame f has arrived.
        assert stitcher.next_frame >= f - plan.lookahead + 1
    emitted += stitcher.finish(n, {s: windows[s] for s in tail_windows(n, plan)})
    return emitted


@given(plans(), st.integers(1, 50), st.integers(0, 2**31 - 1))
def test_streaming_equals_offline(plan: WindowPlan, n: int, seed: int) -> None:
    windows = _random_windows(n, plan, seed)
    rot_off, lin_off = stitch_offline(windows, n, plan)
    emitted = _run_streaming(windows, n, plan)
    assert [f.index for f in emitted] == list(range(n))
    rot_stream = torch.stack([f.rotations for f in emitted])
    lin_stream = torch.stack([f.linear for f in emitted])
    torch.testing.assert_close(rot_stream, rot_off, atol=1e-12, rtol=0)
    torch.testing.assert_close(lin_stream, lin_off, atol=1e-12, rtol=0)
    det = torch.linalg.det(rot_off)
    torch.testing.assert_close(det, torch.ones_like(det))


def test_average_of_two_rotations_is_the_midpoint() -> None:
    plan = WindowPlan(window=2, stride=1, lookahead=1, weights="uniform")
    # Frame 1 of a 3-frame stream is covered by windows starting at 0 and 1.
    angle = 0.6
    R_a = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64))
    R_b = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, angle]], dtype=torch.float64))
    ident = WindowParams(rotations=R_a.expand(2, 1, 3, 3),
                         linear=torch.tensor([[0.0], [2.0]], dtype=torch.float64))
    turned = WindowParams(rotations=R_b.expand(2, 1, 3, 3),
                          linear=torch.tensor([[4.0], [6.0]], dtype=torch.float64))
    windows = {-1: ident, 0: ident, 1: turned, 2: turned}
    rot, lin = stitch_offline(windows, 3, plan)
    expected = axis_angle_to_matrix(torch.tensor([0.0, 0.0, angle / 2], dtype=torch.float64))
    assert geodesic_angle(rot[1, 0], expected).item() < 1e-9
    # Frame 1 is position 1 of window 0 (value 2) and position 0 of window 1 (value 4).
    assert lin[1, 0].item() == 3.0


def test_centre_weights_favour_window_centres() -> None:
    plan = WindowPlan(window=3, stride=1, lookahead=2, weights="centre")
    n = 5
    windows = {s: WindowParams(rotations=torch.eye(3, dtype=torch.float64).expand(3, 1, 3, 3),
                               linear=torch.full((3, 1), float(s), dtype=torch.float64))
               for s in all_windows(n, plan)}
    _, lin = stitch_offline(windows, n, plan)
    # Frame 2: windows 0 (pos 2, weight 1), 1 (pos 1, weight 2), 2 (pos 0, weight 1).
    assert math.isclose(lin[2, 0].item(), (0 * 1 + 1 * 2 + 2 * 1) / 4)


def test_missing_window_is_reported() -> None:
    plan = WindowPlan(window=2, stride=1, lookahead=1)
    windows = _random_windows(4, plan, 0)
    del windows[1]
    try:
        stitch_offline(windows, 4, plan)
    except KeyError as exc:
        assert "starting at [1]" in str(exc)
    else:
        raise AssertionError("expected KeyError")


def test_out_of_order_window_is_rejected() -> None:
    plan = WindowPlan(window=2, stride=1, lookahead=1)
    windows = _random_windows(4, plan, 0)
    stitcher = StreamingStitcher(plan)
    stitcher.push(0, windows[0])
    try:
        stitcher.push(0, windows[0])
    except ValueError as exc:
        assert "ascending" in str(exc)
    else:
        raise AssertionError("expected ValueError")
