"""One-Euro filtering (Casiez et al. 2012) for vectors and, rotation-aware, for joint rotations;
and learned causal taps (:class:`TapsSmoother`).

The One-Euro filter is a first-order low-pass whose cut-off rises with speed: still poses are
smoothed hard, fast motion passes with little lag. Time steps come from real capture timestamps,
so dropped frames and jitter in the frame rate are handled.

Rotations are filtered on the manifold: the step from the last filtered rotation to the new one is
taken as an axis-angle ``δ = log(R̂ᵀ R)``, its angular speed sets the cut-off, and the filtered
rotation moves ``α·δ`` along it — the result is always a proper rotation.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from stmocap.models.rotations import (
    axis_angle_to_matrix,
    geodesic_interpolate,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from stmocap.models.temporal.taps import Taps

from stmocap.validate import NON_NEGATIVE, POSITIVE, Range


@dataclass(frozen=True)
class FilterConfig:
    """Smoothing of the stitched per-frame estimates."""

    filter: Literal["auto", "none", "one-euro", "taps"] = field(default="auto", metadata={
        "help": "auto: on the lite profile with no temporal network, the shipped taps for "
                "--lookahead where there are some (they beat the One-Euro filter, docs/lite.md), "
                "else one-euro; one-euro: speed-adaptive causal smoothing of rotations, shape and "
                "camera; taps: a learned linear smoother (--taps; stmocap fit-taps); none: off. "
                "The shipped networks' output is not filtered"})
    taps: Path | None = field(default=None, metadata={
        "help": "the taps file of --filter taps (stmocap fit-taps; given alone, it selects "
                "--filter taps; default: the shipped lite taps for --lookahead, "
                "models/temporal/data/lite_l<L>_taps.json); taps fitted with lookahead La take "
                "La of --lookahead's frames"})
    taps_weight: float = field(default=0.5, metadata={"check": Range(0.0, 1.0),
        "help": "where a temporal network runs, --filter taps does not filter its output: the "
                "taps smooth the per-frame estimates and the frame published is the mean of the "
                "two, this weight the taps' share (0: the network alone, 1: the taps alone)"})
    min_cutoff: float = field(default=1.5, metadata={"check": POSITIVE, "help": "cut-off (Hz) when still"})
    beta: float = field(default=0.3, metadata={"check": NON_NEGATIVE,
        "help": "cut-off increase per unit of speed"})
    d_cutoff: float = field(default=1.0, metadata={"check": POSITIVE,
        "help": "cut-off (Hz) of the speed estimate"})


def smoothing_factor(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
    """α of an exponential filter with ``cutoff`` Hz at time step ``dt`` seconds."""
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / max(dt, 1e-6))


class OneEuroVector:
    """One-Euro filter of a vector ``(D,)`` (elementwise cut-offs)."""

    def __init__(self, cfg: FilterConfig) -> None:
        self.cfg = cfg
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.x is None or self.t is None or t <= self.t:
            self.x, self.dx, self.t = x, np.zeros_like(x), t
            return x
        dt = t - self.t
        dx = (x - self.x) / dt
        a_d = smoothing_factor(dt, self.cfg.d_cutoff)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        a = smoothing_factor(dt, self.cfg.min_cutoff + self.cfg.beta * np.abs(self.dx))
        self.x = a * x + (1 - a) * self.x
        self.t = t
        return self.x


class OneEuroRotations:
    """One-Euro filter of ``(J, 3, 3)`` rotations, one cut-off per joint from its angular speed."""

    def __init__(self, cfg: FilterConfig) -> None:
        self.cfg = cfg
        self.R: torch.Tensor | None = None
        self.speed: np.ndarray | None = None
        self.t: float | None = None

    def __call__(self, R: np.ndarray, t: float) -> np.ndarray:
        Rt = torch.as_tensor(np.asarray(R, np.float64))
        if self.R is None or self.t is None or t <= self.t:
            self.R, self.speed, self.t = Rt, np.zeros(Rt.shape[0]), t
            return Rt.numpy()
        dt = t - self.t
        delta = matrix_to_axis_angle(self.R.transpose(-1, -2) @ Rt)  # (J, 3), radians
        speed = delta.norm(dim=-1).numpy() / dt
        a_d = smoothing_factor(dt, self.cfg.d_cutoff)
        self.speed = a_d * speed + (1 - a_d) * self.speed
        a = smoothing_factor(dt, self.cfg.min_cutoff + self.cfg.beta * self.speed)
        step = axis_angle_to_matrix(delta * torch.as_tensor(a)[:, None])
        self.R = self.R @ step
        self.t = t
        return self.R.numpy()


def one_euro_lookahead(rotmats: np.ndarray, betas: np.ndarray, times: np.ndarray, lookahead: int,
                       cfg: FilterConfig) -> tuple[np.ndarray, np.ndarray]:
    """The One-Euro filter given ``lookahead`` frames of the future: a forward-backward pass.

    The causal filter runs forward over the whole sequence (it lags motion); a second One-Euro pass
    runs backwards in time from frame ``t + L`` (starting at the forward result there) down to t
    over the raw estimates (it leads motion); frame t's result is the midpoint of the two (for
    rotations, half-way along the geodesic), so their opposite lags cancel to first order. No
    frame after ``t + L`` is read, which is what a stream with lookahead L has waited for;
    ``L = 0`` is the causal filter itself. The baseline the learned network is compared with at
    lookahead L.

    Args:
        rotmats: ``(N, J, 3, 3)`` per-frame rotations (one track, in time order).
        betas: ``(N, K)`` per-frame shape.
        times: ``(N,)`` seconds, increasing.
        lookahead: L ≥ 0 frames.

    Returns:
        ``(N, J, 3, 3)`` rotations and ``(N, K)`` shape.
    """
    N = len(rotmats)
    fwd_r, fwd_b = OneEuroRotations(cfg), OneEuroVector(cfg)
    F = np.stack([fwd_r(rotmats[t], float(times[t])) for t in range(N)]) if N else rotmats
    Fb = np.stack([fwd_b(betas[t], float(times[t])) for t in range(N)]) if N else betas
    if lookahead == 0 or N == 0:
        return F, Fb
    out_r, out_b = np.empty_like(F), np.empty_like(Fb)
    for t in range(N):
        end = min(t + lookahead, N - 1)
        back_r, back_b = OneEuroRotations(cfg), OneEuroVector(cfg)
        r, b = back_r(F[end], -float(times[end])), back_b(Fb[end], -float(times[end]))
        for k in range(end - 1, t - 1, -1):
            r, b = back_r(rotmats[k], -float(times[k])), back_b(betas[k], -float(times[k]))
        mid = geodesic_interpolate(torch.from_numpy(F[t]), torch.from_numpy(r), 0.5)
        out_r[t], out_b[t] = mid.numpy(), 0.5 * (Fb[t] + b)
    return out_r, out_b


class TapsSmoother:
    """Learned taps (:mod:`stmocap.models.temporal.taps`) over one track's frames:
    ``y_t = Σ_i w_i x_{t+L−i}``, ``L`` the taps' lookahead (0: causal). Rotations ``(J, 3, 3)``
    are smoothed through their 6D columns and made rotations again (Gram–Schmidt); the linear
    part ``(D,)`` (β, camera, translation) as it is. Where the track has no frame yet the first
    one stands in for the missing past, and at its end the last one for the missing future, as
    the taps were fitted (:func:`stmocap.evaluation.linear_bound.shifted_stack`). Frames are
    counted, not timed (the taps' ``fps``).

    :meth:`push` takes the newest frame and returns the frame ``L`` older, once there is one;
    :meth:`flush` returns the frames still held at the end of the track."""

    def __init__(self, taps: Taps) -> None:
        self.weights = taps.weights
        self.lookahead = taps.lookahead
        self._w = torch.as_tensor(self.weights)
        n = len(self.weights)
        self.six: deque[torch.Tensor] = deque(maxlen=n)
        self.lin: deque[np.ndarray] = deque(maxlen=n)
        self.pending = 0  # frames pushed whose result has not been returned

    def _smoothed(self) -> tuple[np.ndarray, np.ndarray]:
        pad = len(self.weights) - len(self.six)
        six = list(reversed(self.six)) + [self.six[0]] * pad  # newest first
        lins = list(reversed(self.lin)) + [self.lin[0]] * pad
        smoothed = torch.einsum("k,kjc->jc", self._w, torch.stack(six))
        return (rotation_6d_to_matrix(smoothed).numpy(),
                np.einsum("k,kd->d", self.weights, np.stack(lins)))

    def _append(self, six: torch.Tensor, lin: np.ndarray) -> None:
        self.six.append(six)
        self.lin.append(lin)

    def push(self, R: np.ndarray, lin: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The newest frame's rotations ``(J, 3, 3)`` and linear part ``(D,)`` in; out, the
        smoothed frame ``L`` before it (an empty list while fewer than ``L + 1`` have come)."""
        self._append(matrix_to_rotation_6d(torch.as_tensor(np.asarray(R, np.float64))),
                     np.asarray(lin, np.float64))
        self.pending += 1
        if self.pending <= self.lookahead:
            return []
        self.pending -= 1
        return [self._smoothed()]

    def flush(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """End of the track: the frames still held, in order, the last frame standing in for the
        future it never had."""
        out = []
        while self.pending:
            self._append(self.six[-1], self.lin[-1])
            out.append(self._smoothed())
            self.pending -= 1
        return out

    def __call__(self, R: np.ndarray, lin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Causal taps only: :meth:`push` one frame and return its result."""
        if self.lookahead:
            raise ValueError(f"taps with lookahead {self.lookahead} return a frame late: use push()")
        return self.push(R, lin)[0]
