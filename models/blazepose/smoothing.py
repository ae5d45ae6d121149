"""Temporal smoothing of BlazePose landmarks in video mode, as mediapipe's pose graph does it.

The parameters are those of mediapipe 0.10.21's expanded ``PoseLandmarkCpu`` graph (its
``PoseLandmarkFiltering`` subgraph, read from the installed wheel with
``ValidatedGraphConfig.text_config``), across frames with increasing timestamps:

* the auxiliary landmarks that place the next ROI: One-Euro, min cut-off 0.01 Hz, β 10. This
  filter is always on in video mode, also with ``smooth_landmarks=False``: it keeps the crop still
  while the person is, and so decides what the landmark model sees on the next frame;
* the 33 image landmarks: One-Euro, 0.05 Hz, β 80; their visibilities: exponential low-pass, α 0.1;
* the 33 world landmarks: One-Euro, 0.1 Hz, β 40, in metres without scaling.

Speeds of image points are measured in object sizes per second: pixels divided by the size of the
square the two raw auxiliary points span (twice their distance, :func:`aux_scale`), so the filters
behave the same for a near or a far person.

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


AUX_PARAMS = OneEuroParams(min_cutoff=0.01, beta=10.0)
LANDMARK_PARAMS = OneEuroParams(min_cutoff=0.05, beta=80.0)
WORLD_PARAMS = OneEuroParams(min_cutoff=0.1, beta=40.0)
VISIBILITY_ALPHA = 0.1


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


def aux_scale(aux: np.ndarray, size: tuple[int, int]) -> float:
    """The object size in pixels: twice the distance between auxiliary landmarks 0 and 1 (hip
    centre and body-circle point) ``aux (≥2, ≥2)`` normalised, in an image ``size = (w, h)``.
    (mediapipe's ``OBJECT_SCALE_ROI``: the side of the unscaled ROI these points give.)"""
    w, h = size
    return 2.0 * float(np.hypot((aux[1, 0] - aux[0, 0]) * w, (aux[1, 1] - aux[0, 1]) * h))


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
    """The filters of one tracked person (see the module docstring).

    Args:
        landmarks: also smooth the 33 image and world landmarks and their visibilities
            (mediapipe's ``smooth_landmarks``); the auxiliary landmarks are smoothed either way.
    """

    def __init__(self, landmarks: bool = True) -> None:
        self.smooths_landmarks = landmarks
        self.aux = LandmarkOneEuro(AUX_PARAMS)
        self.landmarks = LandmarkOneEuro(LANDMARK_PARAMS)
        self.world = LandmarkOneEuro(WORLD_PARAMS)
        self._visibility: np.ndarray | None = None

    def reset(self) -> None:
        self.aux.reset()
        self.landmarks.reset()
        self.world.reset()
        self._visibility = None

    def smooth_landmarks(self, landmarks: np.ndarray, world: np.ndarray, size: tuple[int, int],
                         t: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """``landmarks (33, 5)`` normalised (x, y, z, visibility, presence) and ``world (33, 3)``
        metres → smoothed copies; ``size`` is the image's (width, height), ``scale`` the object
        size in pixels (:func:`aux_scale` of this frame's raw auxiliary landmarks)."""
        w, h = size
        px = landmarks[:, :3] * [w, h, w]
        out = landmarks.copy()
        out[:, :3] = self.landmarks(px, t, scale) / [w, h, w]
        vis = landmarks[:, 3]
        self._visibility = vis if self._visibility is None else (
            VISIBILITY_ALPHA * vis + (1 - VISIBILITY_ALPHA) * self._visibility)
        out[:, 3] = self._visibility
        return out, self.world(world, t)

    def smooth_aux(self, aux: np.ndarray, size: tuple[int, int], t: float, scale: float
                   ) -> np.ndarray:
        """Auxiliary landmarks ``(K, 3)`` normalised → smoothed (they place the next ROI);
        ``scale`` as for :meth:`smooth_landmarks`."""
        w, h = size
        px = aux[:, :3] * [w, h, w]
        return self.aux(px, t, scale) / [w, h, w]
