"""The best linear filter of per-frame estimates, fitted to the truth: a bound on smoothing them.

A smoother that sees the frames up to ``t + F`` (``F`` the lookahead) and outputs a weighted sum
of the last ``P + F + 1`` per-frame estimates is a set of taps ``w``::

    y_t = Σ_{k = −F}^{P} w_k · x_{t − k},        Σ_k w_k = 1   (a still body stays where it is)

:func:`fit_taps` finds the taps that score best on given clips *against their own truth*: it
minimises the sum of the two closed-loop metrics, ``MPJPE + λ · ACC-ERR`` (their own norms, by
iteratively reweighted least squares), one set of taps shared by every joint and axis. Fitted on
the clips it is then scored on, no linear smoother of the same estimates with that window can do
better on that weighted sum; sweeping ``λ`` traces the best any of them can do on accuracy
against smoothness. Frames outside a clip repeat its first or last frame, as the graph's filters
start.

Shapes: estimates and truth ``(T, J, 3)`` metres, pelvis-centred (any fixed frame works: the
taps sum to one, so the filter commutes with a constant shift).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Clip = tuple[np.ndarray, np.ndarray]  # (estimates (T, J, 3), truth (T, J, 3))


def shifted_stack(x: np.ndarray, history: int, lookahead: int) -> np.ndarray:
    """``(T, ...)`` → ``(T, ..., n)``, ``n = lookahead + history + 1``: column ``i`` is
    ``x_{t − k}`` with ``k = i − lookahead`` (the future first), edges repeated."""
    T = len(x)
    cols = []
    for k in range(-lookahead, history + 1):
        idx = np.clip(np.arange(T) - k, 0, T - 1)
        cols.append(x[idx])
    return np.stack(cols, axis=-1)


def apply_taps(x: np.ndarray, taps: np.ndarray, lookahead: int) -> np.ndarray:
    """Filter ``x (T, ...)`` with ``taps (n,)`` laid out as :func:`shifted_stack`'s columns."""
    history = len(taps) - lookahead - 1
    if history < 0:
        raise ValueError(f"{len(taps)} taps cannot hold a lookahead of {lookahead}")
    return shifted_stack(x, history, lookahead) @ taps


def _second_difference(x: np.ndarray) -> np.ndarray:
    return x[:-2] - 2 * x[1:-1] + x[2:]


def fit_taps(clips: Sequence[Clip], history: int, lookahead: int = 0, accel_weight: float = 0.0,
             iterations: int = 30, eps: float = 1e-6) -> np.ndarray:
    """Taps ``(lookahead + history + 1,)`` minimising ``Σ MPJPE + accel_weight · Σ ACC-ERR`` summed
    over the clips' frames (each frame's mean joint-position / joint-acceleration error norm).

    The two sums are the metrics' own (norms, not squares); each is met by reweighting a
    constrained least-squares problem (``Σ w = 1``, solved through its KKT system) with the
    inverse of the current residual norms. Starts from the identity (``w = [0…0, 1, 0…0]``), so
    with ``accel_weight = 0`` the result is never worse than the raw estimates on MPJPE.
    """
    if history < 0 or lookahead < 0:
        raise ValueError("history and lookahead must be ≥ 0")
    if not clips:
        raise ValueError("no clips to fit")
    n = lookahead + history + 1
    designs = []
    for est, gt in clips:
        if est.shape != gt.shape or est.ndim != 3 or est.shape[-1] != 3:
            raise ValueError(f"estimates {est.shape} and truth {gt.shape} must both be (T, J, 3)")
        if len(est) < 3:
            raise ValueError("every clip needs at least 3 frames")
        X = shifted_stack(est, history, lookahead)  # (T, J, 3, n)
        designs.append((X, gt, _second_difference(X), _second_difference(gt)))

    taps = np.zeros(n)
    taps[lookahead] = 1.0

    def normal_equations(A: np.ndarray, b: np.ndarray, weight: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        # A (T, J, 3, n), b (T, J, 3), weight (T, J) → Σ w·AᵀA (n, n), Σ w·Aᵀb (n,)
        Aw = A * weight[..., None, None]
        return (np.einsum("tjci,tjck->ik", Aw, A), np.einsum("tjci,tjc->i", Aw, b))

    for _ in range(iterations):
        M, v = np.zeros((n, n)), np.zeros(n)
        for X, gt, dX, dgt in designs:
            J = X.shape[1]
            r = np.linalg.norm(X @ taps - gt, axis=-1)  # (T, J)
            m, b = normal_equations(X, gt, 1.0 / (J * np.maximum(r, eps)))
            M, v = M + m, v + b
            if accel_weight > 0:
                ra = np.linalg.norm(dX @ taps - dgt, axis=-1)
                m, b = normal_equations(dX, dgt, accel_weight / (J * np.maximum(ra, eps)))
                M, v = M + m, v + b
        kkt = np.zeros((n + 1, n + 1))
        kkt[:n, :n], kkt[:n, n], kkt[n, :n] = M, 1.0, 1.0
        new = np.linalg.solve(kkt, np.concatenate([v, [1.0]]))[:n]
        if np.allclose(new, taps, atol=1e-9):
            return new
        taps = new
    return taps
