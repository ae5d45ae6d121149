"""Temporal smoothing of BlazePose landmarks in video mode, as mediapipe's pose graph does it.

mediapipe (``pose_landmark_filtering.pbtxt``) smooths, across frames with increasing timestamps:
the auxiliary landmarks that place the next ROI, heavily (One-Euro min cut-off 0.01 Hz, β 1), so
the crop stays still while the person does; the 33 landmarks lightly (0.1 Hz, β 40); visibilities
with an exponential low-pass (α 0.1). Speeds are measured in object sizes per second (pixels
divided by the mean of the landmarks' box width and height), so the filters behave the same for a
near or a far person. World landmarks get the landmarks' filter, in metres without that scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """One-Euro parameters: cut-off when still (Hz), its growth per unit of speed, speed cut-off."""

    min_cutoff: float
    beta: float
    d_cutoff: float = 1.0


AUX_PARAMS = OneEuroParams(min_cutoff=0.01, beta=1.0)
LANDMARK_PARAMS = OneEuroParams(min_cutoff=0.1, beta=40.0)
VISIBILITY_ALPHA = 0.1


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


def object_scale(points_px: np.ndarray) -> float:
    """Mean of the width and height of the points' box ``(N, ≥2)`` pixels (mediapipe's scale)."""
    span = points_px[:, :2].max(0) - points_px[:, :2].min(0)
    return float(span.mean())


class LandmarkOneEuro:
    """Elementwise One-Euro filter over ``(N, D)`` values with timestamps in seconds.

    The speed is taken between raw values and multiplied by ``1 / scale`` (an object size), then
    low-passed; the cut-off grows with it. A first call, or a timestamp that does not increase,
    restarts the filter at the given values.
    """

    def __init__(self, params: OneEuroParams) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        self._raw: np.ndarray | None = None
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, values: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        values = np.asarray(values, np.float64)
        if self._raw is None or self._t is None or t <= self._t or scale <= 0:
            self._raw, self._value, self._speed, self._t = values, values, np.zeros_like(values), t
            return values
        dt = t - self._t
        speed = (values - self._raw) / scale / dt
        a_d = _alpha(self.params.d_cutoff, dt)
        self._speed = a_d * speed + (1 - a_d) * self._speed
        a = _alpha(self.params.min_cutoff + self.params.beta * np.abs(self._speed), dt)
        self._value = a * values + (1 - a) * self._value
        self._raw, self._t = values, t
        return self._value


class PoseSmoother:
    """The four filters of one tracked person (see the module docstring)."""

    def __init__(self) -> None:
        self.aux = LandmarkOneEuro(AUX_PARAMS)
        self.landmarks = LandmarkOneEuro(LANDMARK_PARAMS)
        self.world = LandmarkOneEuro(LANDMARK_PARAMS)
        self._visibility: np.ndarray | None = None

    def reset(self) -> None:
        self.aux.reset()
        self.landmarks.reset()
        self.world.reset()
        self._visibility = None

    def smooth_landmarks(self, landmarks: np.ndarray, world: np.ndarray, size: tuple[int, int],
                         t: float) -> tuple[np.ndarray, np.ndarray]:
        """``landmarks (33, 5)`` normalised (x, y, z, visibility, presence) and ``world (33, 3)``
        metres → smoothed copies; ``size`` is the image's (width, height)."""
        w, h = size
        px = landmarks[:, :3] * [w, h, w]
        out = landmarks.copy()
        out[:, :3] = self.landmarks(px, t, object_scale(px)) / [w, h, w]
        vis = landmarks[:, 3]
        self._visibility = vis if self._visibility is None else (
            VISIBILITY_ALPHA * vis + (1 - VISIBILITY_ALPHA) * self._visibility)
        out[:, 3] = self._visibility
        return out, self.world(world, t)

    def smooth_aux(self, aux: np.ndarray, size: tuple[int, int], t: float) -> np.ndarray:
        """Auxiliary landmarks ``(K, 3)`` normalised → smoothed (they place the next ROI)."""
        w, h = size
        px = aux[:, :3] * [w, h, w]
        return self.aux(px, t, object_scale(px)) / [w, h, w]
