"""Windows of W consecutive frames of one video, for training and for per-frame evaluation.

Training windows start every ``stride`` frames inside a video and are kept when at least one of
their frames is valid (``valid`` masks the loss frame by frame). Evaluation gives every frame its
own window, placed so the frame sits at ``position`` (edge frames repeated where the video is too
short on either side), which is how a stream with lookahead ``L = W − 1 − position`` sees it.
"""

from __future__ import annotations

import numpy as np
from stmocap.training.data import FrameTable


def served_positions(window: int, lookahead: int) -> tuple[int, ...]:
    """Window positions a stream with lookahead ``L`` reads results from: ``W−1−L … W−1``.

    A frame's result is final once every window covering it and ending within ``L`` frames has
    run, so the positions used are those at most ``L`` frames before the window's end.
    """
    if not 0 <= lookahead <= window - 1:
        raise ValueError(f"lookahead must be in 0..{window - 1}, got {lookahead}")
    return tuple(range(window - 1 - lookahead, window))


def training_windows(table: FrameTable, window: int, stride: int) -> np.ndarray:
    """Row indices ``(K, W)`` of the training windows (videos shorter than W give none)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    starts = [s for _, lo, hi in table.videos() for s in range(lo, hi - window + 1, stride)
              if table.valid[s:s + window].any()]
    if not starts:
        return np.zeros((0, window), np.int64)
    return np.asarray(starts, np.int64)[:, None] + np.arange(window)


def evaluation_windows(table: FrameTable, window: int, position: int) -> np.ndarray:
    """Row indices ``(N, W)``: row t's window has frame t at ``position``, edges repeated."""
    if not 0 <= position < window:
        raise ValueError(f"position must be in 0..{window - 1}, got {position}")
    rows = np.empty((len(table), window), np.int64)
    offsets = np.arange(window) - position
    for _, lo, hi in table.videos():
        t = np.arange(lo, hi)[:, None]
        rows[lo:hi] = np.clip(t + offsets, lo, hi - 1)
    return rows
