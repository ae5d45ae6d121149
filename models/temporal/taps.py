"""A learned causal smoother: taps over the last frames of the per-frame estimates, as a file.

``y_t = Σ_k w_k · x_{t−k}`` for ``k = 0 … n−1`` with ``Σ w = 1``, fitted by ``stmocap fit-taps``
(:mod:`stmocap.training.taps`) to training motions against their truth, trading MPJPE against
ACC-ERR (:func:`stmocap.evaluation.linear_bound.fit_taps`). The graph applies it after stitching
(``--filter taps``, :class:`stmocap.realtime.filters.TapsSmoother`), frame by frame, reading no
future frame. The file is JSON and carries what made it::

    {"format": "stmocap-taps", "version": 1, "taps": [w_0, w_1, …], "lookahead": 0,
     "fps": 30.0, "accel_weight": λ, "fitted_on": [clip, …], "frames": N, "metrics": {…},
     "command": "stmocap fit-taps …", "created": "…", "stmocap": "0.x"}

``w_0`` weighs the newest frame. The taps assume frames ``1 / fps`` apart (the clock they were
fitted at); a stream at another rate is smoothed over a different span of time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "stmocap-taps"
VERSION = 1
SHIPPED = Path(__file__).with_name("data") / "lite_l0_taps.json"


@dataclass(frozen=True)
class Taps:
    """``weights (n,)``, newest frame first, summing to one; ``meta`` is the rest of the file."""

    weights: np.ndarray
    fps: float = 30.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, np.float64)
        if w.ndim != 1 or len(w) == 0 or not np.isfinite(w).all():
            raise ValueError("taps must be a non-empty list of finite numbers")
        if abs(float(w.sum()) - 1.0) > 1e-6:
            raise ValueError(f"taps must sum to 1 (a still body must stay put), got {w.sum():.6f}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be > 0, got {self.fps}")
        object.__setattr__(self, "weights", w)


def save_taps(path: Path, taps: Taps) -> None:
    """Write ``taps`` as the JSON above (``meta`` keys alongside the weights)."""
    doc = {"format": FORMAT, "version": VERSION, "taps": [float(w) for w in taps.weights],
           "lookahead": 0, "fps": taps.fps, **taps.meta}
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
    if doc.get("lookahead", 0) != 0:
        raise ValueError(f"{path}: taps with lookahead {doc['lookahead']}; the graph applies causal "
                         "taps (lookahead 0) only")
    try:
        taps = Taps(np.asarray(doc["taps"], np.float64), float(doc.get("fps", 30.0)),
                    {k: v for k, v in doc.items()
                     if k not in ("format", "version", "taps", "lookahead", "fps")})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return taps
