"""Sliding windows over a frame stream: which windows exist and which may shape each frame.

Pure functions shared by the offline evaluator and the streaming graph.

Model. Windows have ``W`` frames and start on the grid ``s = k·S`` (``k`` any integer, stride
``S``), so the first windows start *before* frame 0 and the last ones run *past* the last frame:
window positions outside ``[0, N)`` repeat the nearest real frame (edge padding, as MPS-Net and
TCMR do). A window exists when it holds at least one real frame: ``s ≤ N − 1`` and
``s + W − 1 ≥ 0``.

Lookahead ``L`` is the latency knob: frame ``t`` is final when frame ``t + L`` has arrived, using
every window containing ``t`` that was complete by then (``s + W − 1 ≤ t + L``). Frames within
``L`` of the end of the stream (``t + L > N − 1``) are finalised when the stream ends, from every
window containing them, padded tail windows included. Every frame has a window within its
lookahead only if ``S ≤ L + 1``; :class:`WindowPlan` enforces that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from stmocap.validate import AT_LEAST_ONE, NON_NEGATIVE

WeightScheme = Literal["uniform", "centre"]


@dataclass(frozen=True)
class WindowPlan:
    """Window size, stride, lookahead and the weights that stitch overlapping windows."""

    window: int = field(default=16, metadata={"check": AT_LEAST_ONE,
        "help": "frames per window W (the paper uses 16)"})
    stride: int = field(default=1, metadata={"check": AT_LEAST_ONE,
        "help": "frames between window starts S (1..W)"})
    lookahead: int = field(
        default=0,
        metadata={"check": NON_NEGATIVE,
            "help": "frames L a result waits for later frames (0..W-1); costs L/fps latency"},
    )
    weights: WeightScheme = field(
        default="centre",
        metadata={"help": "how overlapping windows are weighted: uniform, or favouring centres"},
    )

    def __post_init__(self) -> None:
        W, S, L = self.window, self.stride, self.lookahead
        if W < 1:
            raise ValueError(f"window must be >= 1, got {W}")
        if not 1 <= S <= W:
            raise ValueError(f"stride must be in 1..{W} (the window size), got {S}")
        if not 0 <= L <= W - 1:
            raise ValueError(f"lookahead must be in 0..{W - 1} (window size - 1), got {L}")
        if S > L + 1:
            raise ValueError(
                f"stride {S} with lookahead {L} leaves frames with no finished window: "
                f"use stride <= lookahead + 1 (e.g. --stride {L + 1}) or lookahead >= {S - 1}"
            )


def _first_start_at_or_after(x: int, stride: int) -> int:
    return -((-x) // stride) * stride


def windows_containing(t: int, num_frames: int, plan: WindowPlan) -> list[int]:
    """Starts of all existing windows that contain frame ``t`` (ascending)."""
    W, S = plan.window, plan.stride
    lo = _first_start_at_or_after(t - W + 1, S)
    return [s for s in range(lo, t + 1, S) if s <= num_frames - 1]


def contributing_windows(t: int, num_frames: int, plan: WindowPlan) -> list[int]:
    """Starts of the windows whose outputs are averaged into frame ``t``'s final estimate.

    Args:
        t: frame index in ``[0, num_frames)``.
        num_frames: length ``N`` of the whole stream.
        plan: window size, stride and lookahead.
    """
    if not 0 <= t < num_frames:
        raise IndexError(f"frame {t} outside a stream of {num_frames} frames")
    starts = windows_containing(t, num_frames, plan)
    if t + plan.lookahead > num_frames - 1:
        return starts  # finalised at the end of the stream, tail windows included
    return [s for s in starts if s + plan.window - 1 <= t + plan.lookahead]


def all_windows(num_frames: int, plan: WindowPlan) -> list[int]:
    """Starts of every window that exists for a stream of ``num_frames`` frames (ascending)."""
    if num_frames <= 0:
        return []
    lo = _first_start_at_or_after(1 - plan.window, plan.stride)
    return list(range(lo, num_frames, plan.stride))


def window_ready_at(frame: int, plan: WindowPlan) -> int | None:
    """Start of the window whose last frame is ``frame`` (so it can run now), or ``None``."""
    start = frame - plan.window + 1
    return start if start % plan.stride == 0 else None


def tail_windows(num_frames: int, plan: WindowPlan) -> list[int]:
    """Starts of the windows that run past the last frame; they run when the stream ends."""
    return [s for s in all_windows(num_frames, plan) if s + plan.window - 1 > num_frames - 1]


def window_frame_indices(start: int, num_frames: int, plan: WindowPlan) -> list[int]:
    """Frame index for each of the ``W`` window positions, clamped to ``[0, num_frames)``."""
    return [min(max(start + p, 0), num_frames - 1) for p in range(plan.window)]


def position_weights(plan: WindowPlan) -> list[float]:
    """Weight of each window position ``p`` in ``0..W-1`` when windows overlap.

    ``uniform``: all 1. ``centre``: triangular, ``min(p + 1, W − p)``, so a frame near a window's
    centre (with context on both sides) counts more than one at its border.
    """
    W = plan.window
    if plan.weights == "uniform":
        return [1.0] * W
    return [float(min(p + 1, W - p)) for p in range(W)]
