"""A body's standing height and the shape β that gives a stated height.

Frame: the body model's rest pose (SMPL: metres, y up). The stature is the rest mesh's vertical
extent, crown to sole: ``max_v y − min_v y`` of ``v_template + shapedirs β``. It is piecewise
linear in β (the highest and lowest vertices can change), so :func:`betas_for_stature` projects
onto the linearised constraint a few times.

Why a user's height helps: BlazePose's world landmarks keep one body size whoever is filmed
(docs/benchmarks.md, "Unseen bodies"), so without a cue every person gets the mean body, and a
tall person is posed too small and placed too near. Told the height, the lite profile poses the
body of that height that is most probable under the shape prior (β ~ N(0, I): the least-norm β)
and scales the landmarks it places by the same factor.
"""

from __future__ import annotations

import numpy as np
from stmocap.models.body.smpl_file import BodyModelData

MIN_STATURE_M = 1.0
MAX_STATURE_M = 2.5


def check_person_height(value: float) -> None:
    """A config check: 0 (unknown) or a standing height in metres (raises the rest of a
    sentence, as :mod:`stmocap.validate`'s checks do)."""
    if value != 0 and not MIN_STATURE_M <= value <= MAX_STATURE_M:
        raise ValueError(f"must be 0 (unknown) or a height in metres, {MIN_STATURE_M:g}..{MAX_STATURE_M:g} "
                         f"(1.75, not 175; got {value:g})")


def _vertices(data: BodyModelData, betas: np.ndarray) -> np.ndarray:
    b = np.asarray(betas, np.float64)
    K = b.shape[-1]
    return data.v_template.astype(np.float64) + data.shapedirs[..., :K].astype(np.float64) @ b


def stature(data: BodyModelData, betas: np.ndarray) -> float:
    """Standing height in metres of the rest mesh for ``betas (K,)`` (crown to sole)."""
    y = _vertices(data, betas)[:, 1]
    return float(y.max() - y.min())


def betas_for_stature(data: BodyModelData, height: float, num: int = 10,
                      iterations: int = 10) -> np.ndarray:
    """The least-norm β ``(num,)`` whose rest mesh stands ``height`` metres tall.

    Raises :class:`ValueError` outside ``[MIN_STATURE_M, MAX_STATURE_M]`` (a height in cm or feet
    is the usual mistake) or where the shape space cannot reach it."""
    if not MIN_STATURE_M <= height <= MAX_STATURE_M:
        raise ValueError(f"a person's height must be {MIN_STATURE_M:g}..{MAX_STATURE_M:g} m, got "
                         f"{height:g} (in metres: 1.75, not 175)")
    num = min(num, data.shapedirs.shape[-1])
    dirs = data.shapedirs[:, 1, :num].astype(np.float64)  # (V, K): d y / d β
    beta = np.zeros(num)
    for _ in range(iterations):
        y = _vertices(data, beta)[:, 1]
        top, bottom = int(y.argmax()), int(y.argmin())
        g = dirs[top] - dirs[bottom]  # d stature / d β here
        gg = float(g @ g)
        if gg < 1e-12:
            break
        # The least-norm point of the plane {β: h(β̂) + g·(β − β̂) = height}.
        beta = g * (height - (y[top] - y[bottom]) + g @ beta) / gg
    got = stature(data, beta)
    if abs(got - height) > 0.005:
        raise ValueError(f"the body model's shape space reaches no {height:.3f} m body "
                         f"(closest {got:.3f} m)")
    return beta


def skeleton_scale(data: BodyModelData, betas: np.ndarray) -> float:
    """How much larger the rest skeleton of ``betas`` is than the mean body's: the ratio of the
    summed bone lengths (joint regressor on the rest mesh; 1 for β = 0)."""
    def length(b: np.ndarray) -> float:
        j = data.j_regressor @ _vertices(data, b)
        return float(sum(np.linalg.norm(j[c] - j[int(p)])
                         for c, p in enumerate(data.parents) if c > 0 and p >= 0))

    return length(np.asarray(betas, np.float64)) / length(np.zeros(np.shape(betas)[-1]))
