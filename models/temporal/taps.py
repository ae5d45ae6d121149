"""A learned linear smoother: taps over the last frames of the per-frame estimates, as a file.

``y_t = Σ_i w_i · x_{t+L−i}`` for ``i = 0 … n−1`` with ``Σ w = 1``: the newest frame the smoother
reads is ``t + L``, ``L`` its lookahead (0: causal). Fitted by ``stmocap fit-taps``
(:mod:`stmocap.training.taps`) to training motions against their truth, trading MPJPE against
ACC-ERR (:func:`stmocap.evaluation.linear_bound.fit_taps`). The graph applies it after stitching
(``--filter taps``, :class:`stmocap.realtime.filters.TapsSmoother`), frame by frame; taps with
lookahead L take L of the frames ``--lookahead`` waits for. The file is JSON and carries what
made it::

    {"format": "stmocap-taps", "version": 1, "taps": [w_0, w_1, …], "lookahead": L,
     "fps": 30.0, "accel_weight": λ, "fitted_on": [clip, …], "frames": N, "metrics": {…},
     "command": "stmocap fit-taps …", "created": "…", "stmocap": "0.x"}

``w_0`` weighs the newest frame. The taps assume frames ``1 / fps`` apart (the clock they were
fitted at); a stream at another rate is smoothed over a different span of time. The shipped
files (:func:`shipped_taps`) are fitted on the lite profile's training motions, one per lookahead.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "stmocap-taps"
VERSION = 1
DATA = Path(__file__).with_name("data")


def shipped_taps(lookahead: int) -> Path:
    """The shipped lite taps file for ``--lookahead`` (it may not exist: :func:`shipped_lookaheads`)."""
    return DATA / f"lite_l{lookahead}_taps.json"


def shipped_lookaheads() -> list[int]:
    """The lookaheads with a shipped taps file, ascending."""
    names = (re.fullmatch(r"lite_l(\d+)_taps\.json", p.name) for p in DATA.glob("lite_l*_taps.json"))
    return sorted(int(m.group(1)) for m in names if m)


SHIPPED = shipped_taps(0)


def taps_file(given: Path | None, lookahead: int) -> Path:
    """The taps file to use: ``given`` (``--taps``), else the shipped one for ``lookahead``; a
    ``ValueError`` where none is shipped for it."""
    if given is not None:
        return given
    path = shipped_taps(lookahead)
    if not path.is_file():
        have = ", ".join(str(L) for L in shipped_lookaheads()) or "none"
        raise ValueError(f"no shipped taps for --lookahead {lookahead} (shipped: {have}); pass "
                         f"--taps FILE (stmocap fit-taps --lookahead {lookahead} --out FILE)")
    return path


@dataclass(frozen=True)
class Taps:
    """``weights (n,)``, newest frame first, summing to one; ``lookahead``: how many of them lie
    after the frame smoothed (``0 ≤ L < n``); ``meta`` is the rest of the file."""

    weights: np.ndarray
    fps: float = 30.0
    meta: dict[str, Any] = field(default_factory=dict)
    lookahead: int = 0

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, np.float64)
        if w.ndim != 1 or len(w) == 0 or not np.isfinite(w).all():
            raise ValueError("taps must be a non-empty list of finite numbers")
        if abs(float(w.sum()) - 1.0) > 1e-6:
            raise ValueError(f"taps must sum to 1 (a still body must stay put), got {w.sum():.6f}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if not 0 <= self.lookahead < len(w):
            raise ValueError(f"lookahead must be in 0..{len(w) - 1} ({len(w)} taps), got "
                             f"{self.lookahead}")
        object.__setattr__(self, "weights", w)


def save_taps(path: Path, taps: Taps) -> None:
    """Write ``taps`` as the JSON above (``meta`` keys alongside the weights)."""
    doc = {"format": FORMAT, "version": VERSION, "taps": [float(w) for w in taps.weights],
           "lookahead": taps.lookahead, "fps": taps.fps, **taps.meta}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")


def load_taps(path: Path) -> Taps:
    """Read a taps file; every problem is a ``ValueError`` naming the file."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such taps file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a taps file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a taps file (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise ValueError(f"{path}: taps file version {doc.get('version')!r}; this stmocap reads "
                         f"{VERSION}")
    lookahead = doc.get("lookahead", 0)
    if not isinstance(lookahead, int) or isinstance(lookahead, bool):
        raise ValueError(f"{path}: lookahead must be a whole number of frames, got {lookahead!r}")
    try:
        taps = Taps(np.asarray(doc["taps"], np.float64), float(doc.get("fps", 30.0)),
                    {k: v for k, v in doc.items()
                     if k not in ("format", "version", "taps", "lookahead", "fps")}, lookahead)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return taps


def taps_problem(taps: Taps, lookahead: int, stride: int) -> str | None:
    """Why ``taps`` cannot run in a graph waiting ``lookahead`` frames with window ``stride``
    (None where they can): they read ``taps.lookahead`` frames ahead, out of the graph's
    ``lookahead``, and the overlap averaging keeps the rest, which must cover the stride."""
    if taps.lookahead > lookahead:
        return (f"the taps read {taps.lookahead} frames ahead and --lookahead is {lookahead}: "
                f"use --lookahead {taps.lookahead}, or taps fitted for it (stmocap fit-taps "
                f"--lookahead {lookahead})")
    rest = lookahead - taps.lookahead
    if stride > rest + 1:
        return (f"the taps read {taps.lookahead} of the {lookahead} frames --lookahead waits for, "
                f"leaving {rest} for overlap averaging, and --stride {stride} needs {stride - 1}: "
                f"use --stride {rest + 1}, or taps that read fewer frames ahead")
    return None
