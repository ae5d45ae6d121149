"""Random body shapes for rendered clips: the free body's β drawn per clip and view.

The free body's 10 shape directions are scaled so that β ≈ N(0, 1) over the adults they were
fitted to (docs/free-body.md), so ``sigma = 1`` draws bodies as varied as that population; draws
are clipped at ± 2.5 σ so no body is extreme beyond it. The shipped clips themselves carry β = 0
(the mean body).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from stmocap.groundtruth.motions import Motion

SHAPE_STREAM = 2
"""Seeds the shape draw apart from a scene's other random choices (``default_rng([seed, 2])``),
so giving a clip a body shape leaves its camera, clothes and background as they were."""


def random_betas(seed: int, sigma: float, num: int = 10) -> np.ndarray:
    """``(num,)`` float64 β ~ N(0, σ²), clipped to ± 2.5 σ, reproducible from ``seed``.

    ``sigma = 0`` gives the mean body (zeros); a negative ``sigma`` is a :class:`ValueError`.
    """
    if sigma < 0:
        raise ValueError(f"shape sigma must be ≥ 0, got {sigma}")
    if sigma == 0:
        return np.zeros(num)
    rng = np.random.default_rng([seed, SHAPE_STREAM])
    return np.clip(rng.normal(0.0, sigma, num), -2.5 * sigma, 2.5 * sigma)


def reshaped(motion: Motion, seed: int, sigma: float) -> Motion:
    """``motion`` on a body of its own shape, ``random_betas(seed, sigma)``; ``sigma = 0``: the
    motion as it is (its own β)."""
    return replace(motion, betas=random_betas(seed, sigma)) if sigma else motion
