"""Stitch overlapping window outputs into one estimate per frame (offline and streaming).

A window's output is a :class:`WindowParams`: per position, rotation matrices (joint rotations)
and a flat vector of linear quantities (shape β, camera, translation …). Frame ``t``'s estimate is
the weighted mean over its contributing windows (:func:`~stmocap.realtime.windows.contributing_windows`):
rotation matrices are averaged element-wise then projected to SO(3) by SVD; linear values are
averaged arithmetically. :func:`stitch_offline` computes it frame by frame from the whole list of
windows; :class:`StreamingStitcher` accumulates windows as they arrive and emits each frame as soon
as its lookahead has passed. Both give the same numbers (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from stmocap.models.rotations import project_to_so3
from stmocap.realtime.windows import (
    WindowPlan,
    contributing_windows,
    position_weights,
    windows_containing,
)
from torch import Tensor


@dataclass(frozen=True)
class WindowParams:
    """Per-position outputs of one window.

    Attributes:
        rotations: ``(W, J, 3, 3)`` rotation matrices (e.g. J = 24 SMPL joints, root first).
        linear: ``(W, D)`` values averaged arithmetically (e.g. β(10) ‖ camera(3)).
    """

    rotations: Tensor
    linear: Tensor


@dataclass(frozen=True)
class StitchedFrame:
    """Final estimate of one frame.

    Attributes:
        index: frame index in the stream.
        rotations: ``(J, 3, 3)`` proper rotations.
        linear: ``(D,)``.
        num_windows: how many windows were averaged.
    """

    index: int
    rotations: Tensor
    linear: Tensor
    num_windows: int


def _finalise(index: int, rot_sum: Tensor, lin_sum: Tensor, weight: float, count: int,
              dtype: torch.dtype) -> StitchedFrame:
    return StitchedFrame(
        index=index,
        rotations=project_to_so3(rot_sum / weight).to(dtype),
        linear=(lin_sum / weight).to(dtype),
        num_windows=count,
    )


def stitch_offline(
    windows: Mapping[int, WindowParams], num_frames: int, plan: WindowPlan
) -> tuple[Tensor, Tensor]:
    """Stitch every frame of a finished stream.

    Args:
        windows: window start → its outputs, for every start in
            :func:`~stmocap.realtime.windows.all_windows` (extra starts are ignored).
        num_frames: stream length ``N``.
        plan: the window plan the windows were made with.

    Returns:
        ``(N, J, 3, 3)`` rotations and ``(N, D)`` linear values, in the windows' dtype.
    """
    weights = position_weights(plan)
    out_rot, out_lin = [], []
    for t in range(num_frames):
        starts = contributing_windows(t, num_frames, plan)
        missing = [s for s in starts if s not in windows]
        if missing:
            raise KeyError(f"frame {t} needs windows starting at {missing}, which were not given")
        ws = [weights[t - s] for s in starts]
        pairs = list(zip(starts, ws, strict=True))
        rots = torch.stack([windows[s].rotations[t - s].double() * w for s, w in pairs])
        lins = torch.stack([windows[s].linear[t - s].double() * w for s, w in pairs])
        total = sum(ws)
        dtype = windows[starts[0]].rotations.dtype
        out_rot.append(project_to_so3(rots.sum(0) / total).to(dtype))
        out_lin.append((lins.sum(0) / total).to(dtype))
    return torch.stack(out_rot), torch.stack(out_lin)


class StreamingStitcher:
    """Incremental stitcher for a live stream (state: running sums of unfinished frames).

    Feed windows in ascending start order with :meth:`push`, tell it about frames that arrived
    without a window with :meth:`advance`, and call :meth:`finish` when the stream ends. Each call
    returns the frames that became final, in order; every frame is returned exactly once.
    """

    def __init__(self, plan: WindowPlan) -> None:
        self.plan = plan
        self._weights = position_weights(plan)
        self._sums: dict[int, tuple[Tensor, Tensor, float, int]] = {}
        self._next_out = 0  # first frame not yet emitted
        self._last_frame = -1  # newest real frame known to exist
        self._last_start: int | None = None
        self._dtype = torch.float32

    @property
    def next_frame(self) -> int:
        """Index of the next frame this stitcher will emit."""
        return self._next_out

    def _accumulate(self, start: int, params: WindowParams, last_real: int) -> None:
        if self._last_start is not None and start <= self._last_start:
            raise ValueError(f"windows must arrive in ascending start order ({start} after "
                             f"{self._last_start})")
        self._last_start = start
        self._dtype = params.rotations.dtype
        for p in range(self.plan.window):
            t = start + p
            if t < self._next_out or t > last_real:
                continue
            w = self._weights[p]
            r = params.rotations[p].double() * w
            x = params.linear[p].double() * w
            if t in self._sums:
                r0, x0, w0, c0 = self._sums[t]
                self._sums[t] = (r0 + r, x0 + x, w0 + w, c0 + 1)
            else:
                self._sums[t] = (r, x, w, 1)

    def _emit_until(self, last: int) -> list[StitchedFrame]:
        out = []
        while self._next_out <= last:
            t = self._next_out
            if t not in self._sums:
                raise RuntimeError(f"frame {t} is final but no window covered it")
            r, x, w, c = self._sums.pop(t)
            out.append(_finalise(t, r, x, w, c, self._dtype))
            self._next_out += 1
        return out

    def advance(self, frame: int) -> list[StitchedFrame]:
        """Frame ``frame`` has arrived: emit frames whose lookahead has now passed."""
        self._last_frame = max(self._last_frame, frame)
        return self._emit_until(self._last_frame - self.plan.lookahead)

    def push(self, start: int, params: WindowParams) -> list[StitchedFrame]:
        """Add a complete window (its last frame ``start + W − 1`` is real) and emit what is final."""
        end = start + self.plan.window - 1
        self._accumulate(start, params, end)
        return self.advance(end)

    def finish(self, num_frames: int, tail: Mapping[int, WindowParams]) -> list[StitchedFrame]:
        """End of stream after ``num_frames`` frames: add the padded ``tail`` windows, emit the rest.

        ``tail`` must hold every start in :func:`~stmocap.realtime.windows.tail_windows` (frames of
        a short stream may also need windows that were never complete).
        """
        for start in sorted(tail):
            self._accumulate(start, tail[start], num_frames - 1)
        pending = [t for t in range(self._next_out, num_frames)
                   if len(windows_containing(t, num_frames, self.plan)) == 0]
        if pending:
            raise RuntimeError(f"frames {pending} have no window")
        return self._emit_until(num_frames - 1)
