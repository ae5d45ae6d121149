"""Shot cuts: the frame where an edited video jumps to another shot.

Within one shot consecutive frames share almost all their colours, however the person moves; at a
cut most of them change at once. A cut is a frame whose colour histogram differs from the previous
frame's by more than a threshold (total-variation distance, 0: the same colours, 1: none in
common). On the shipped renders the largest change within a shot is 0.039 and every cut of the
demo clip is 0.245–0.264 (docs/lite.md, "Shot cuts"), so the default threshold, 0.15, has a margin
on both sides. Two shots of one scene from nearby angles can share their colours; such a
cut is not seen (a live camera has no cuts at all).

At a cut the detect stage marks its message (``meta["cut"] = True``) and drops what it was tracking;
the per-frame, window and stitch stages then start every track afresh, as if its person had just
appeared: no window, filter or warm start mixes the two shots.
"""

from __future__ import annotations

import cv2
import numpy as np

BINS = 8  # per channel: 512 colours
THUMB = 32  # the histogram is taken on a thumbnail this many pixels wide


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 → ``(BINS³,)`` float64 summing to 1, of a ``THUMB``-wide thumbnail.

    Soft bins: each pixel is shared between the two nearest bin centres per channel (trilinear),
    so a small change of brightness moves the histogram a little, never a whole flat wall from
    one bin to the next at once."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    small = cv2.resize(image, (THUMB, max(1, round(THUMB * h / w))), interpolation=cv2.INTER_AREA)
    pos = np.clip(small.reshape(-1, 3).astype(np.float64) * BINS / 256 - 0.5, 0, BINS - 1)
    low = np.minimum(pos.astype(np.int64), BINS - 2)  # (N, 3) lower bin per channel
    frac = pos - low  # weight of the upper bin
    counts = np.zeros(BINS ** 3)
    for corner in range(8):  # the 2×2×2 neighbouring bins
        up = [(corner >> c) & 1 for c in range(3)]
        index = ((low[:, 0] + up[0]) * BINS + low[:, 1] + up[1]) * BINS + low[:, 2] + up[2]
        weight = ((frac[:, 0] if up[0] else 1 - frac[:, 0]) * (frac[:, 1] if up[1] else 1 - frac[:, 1])
                  * (frac[:, 2] if up[2] else 1 - frac[:, 2]))
        counts += np.bincount(index, weights=weight, minlength=BINS ** 3)
    return counts / counts.sum()


def histogram_change(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance of two histograms that sum to 1: in [0, 1]."""
    return float(0.5 * np.abs(a - b).sum())


class CutDetector:
    """Call on every frame in order; True where a new shot starts (never on the first frame).
    ``threshold`` 0 turns detection off."""

    def __init__(self, threshold: float) -> None:
        if not 0 <= threshold <= 1:
            raise ValueError(f"cut threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> bool:
        if self.threshold == 0:
            return False
        hist = colour_histogram(image)
        previous, self._previous = self._previous, hist
        return previous is not None and histogram_change(previous, hist) > self.threshold
