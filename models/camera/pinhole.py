"""The pinhole camera: intrinsics, field of view, projection and undistortion.

Frames: camera coordinates are x right, y down, z forward (OpenCV), metres. Image coordinates are
pixels with the origin at the top-left corner of the top-left pixel. Distortion coefficients follow
OpenCV's order ``(k1, k2, p1, p2[, k3[, k4, k5, k6]])`` and act on normalised coordinates, so they
do not change when the image is rescaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# A typical webcam: 78° across the diagonal. This is the figure Logitech gives for the C920 (the
# most common USB webcam), quoted from memory and not re-checked here (no internet): treat it as
# "a typical desktop webcam", not a measured value. It is ≈ 70° horizontal at 16:9 and ≈ 66° at
# 4:3. Laptop cameras are often narrower (≈ 60–70° diagonal): a camera narrower than assumed places
# bodies too close by the ratio of the focal lengths (docs/camera.md).
DEFAULT_WEBCAM_DIAGONAL_FOV = 78.0


def focal_from_fov(fov_deg: float, width: int, height: int) -> float:
    """Focal length in pixels for a field of view ``fov_deg`` across the image's longer side."""
    if not 1.0 <= fov_deg <= 179.0:
        raise ValueError(f"field of view must be in 1..179 degrees, got {fov_deg}")
    return 0.5 * max(width, height) / math.tan(math.radians(fov_deg) / 2)


def focal_from_diagonal_fov(fov_deg: float, width: int, height: int) -> float:
    """Focal length in pixels for a field of view ``fov_deg`` across the image diagonal."""
    if not 1.0 <= fov_deg <= 179.0:
        raise ValueError(f"field of view must be in 1..179 degrees, got {fov_deg}")
    return 0.5 * math.hypot(width, height) / math.tan(math.radians(fov_deg) / 2)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of an image of ``size = (W, H)`` pixels: focal lengths ``fx, fy`` and the
    principal point ``cx, cy`` in pixels, OpenCV distortion ``dist`` (empty: none)."""

    fx: float
    fy: float
    cx: float
    cy: float
    size: tuple[int, int]
    dist: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0) or not all(map(math.isfinite, (self.fx, self.fy,
                                                                            self.cx, self.cy))):
            raise ValueError(f"focal lengths must be positive and finite, got fx={self.fx}, "
                             f"fy={self.fy}")
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ValueError(f"image size must be two positive integers, got {self.size}")
        if len(self.dist) not in (0, 4, 5, 8, 12, 14):
            raise ValueError(f"distortion needs 4, 5, 8, 12 or 14 coefficients, got {len(self.dist)}")

    @classmethod
    def from_fov(cls, fov_deg: float, size: tuple[int, int]) -> Intrinsics:
        """Square pixels, centred principal point, ``fov_deg`` across the longer side."""
        W, H = size
        f = focal_from_fov(fov_deg, W, H)
        return cls(f, f, W / 2.0, H / 2.0, (int(W), int(H)))

    @classmethod
    def from_diagonal_fov(cls, fov_deg: float, size: tuple[int, int]) -> Intrinsics:
        """Square pixels, centred principal point, ``fov_deg`` across the diagonal."""
        W, H = size
        f = focal_from_diagonal_fov(fov_deg, W, H)
        return cls(f, f, W / 2.0, H / 2.0, (int(W), int(H)))

    @property
    def matrix(self) -> np.ndarray:
        """The 3×3 camera matrix ``K``."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def distorted(self) -> bool:
        return any(c != 0.0 for c in self.dist)

    def horizontal_fov(self) -> float:
        """Field of view across the image width, degrees."""
        return math.degrees(2 * math.atan(self.size[0] / (2 * self.fx)))

    def rescaled(self, size: tuple[int, int]) -> Intrinsics:
        """The same camera delivering images of ``size``: focal lengths and principal point scale
        with the image (pixel centres kept: ``c' = (c + ½) · s − ½``). A different aspect ratio (more
        than 1 %) means the camera crops, which a scale cannot describe: ``ValueError``."""
        W, H = self.size
        W2, H2 = int(size[0]), int(size[1])
        if (W2, H2) == (W, H):
            return self
        sx, sy = W2 / W, H2 / H
        if abs(sx / sy - 1.0) > 0.01:
            raise ValueError(f"intrinsics calibrated at {W}x{H} cannot be rescaled to {W2}x{H2} "
                             "(another aspect ratio: the camera crops); calibrate at this size")
        return Intrinsics(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5,
                          (self.cy + 0.5) * sy - 0.5, (W2, H2), self.dist)

    def scaled_focal(self, factor: float) -> Intrinsics:
        """The same camera with focal lengths multiplied by ``factor`` (evaluation of a wrong
        field of view)."""
        return Intrinsics(self.fx * factor, self.fy * factor, self.cx, self.cy, self.size, self.dist)

    def to_meta(self) -> dict[str, Any]:
        """Plain values for a message's ``meta`` (the wire's ``intrinsics``)."""
        return {"fx": float(self.fx), "fy": float(self.fy), "cx": float(self.cx),
                "cy": float(self.cy), "size": [int(self.size[0]), int(self.size[1])],
                "dist": [float(c) for c in self.dist]}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Intrinsics:
        return cls(float(meta["fx"]), float(meta["fy"]), float(meta["cx"]), float(meta["cy"]),
                   (int(meta["size"][0]), int(meta["size"][1])),
                   tuple(float(c) for c in meta.get("dist", ())))


def project_points(points: np.ndarray, intr: Intrinsics, distort: bool = True) -> np.ndarray:
    """Camera-frame ``points (..., 3)`` → pixels ``(..., 2)``; with ``distort`` and distortion
    coefficients, the pixels of the distorted (raw) image, as ``cv2.projectPoints`` gives them."""
    pts = np.asarray(points, np.float64)
    z = np.maximum(pts[..., 2:3], 1e-9)
    xy = pts[..., :2] / z
    if distort and intr.distorted:
        import cv2

        flat = pts.reshape(-1, 3)
        uv, _ = cv2.projectPoints(flat, np.zeros(3), np.zeros(3), intr.matrix,
                                  np.asarray(intr.dist, np.float64))
        return uv.reshape(*pts.shape[:-1], 2)
    return xy * np.array([intr.fx, intr.fy]) + np.array([intr.cx, intr.cy])


def undistort_pixels(pixels: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Raw-image ``pixels (N, 2)`` → where an ideal pinhole with the same ``K`` would see them
    (``cv2.undistortPointsIter`` with ``P = K``, iterated to 1e-10); unchanged without distortion."""
    px = np.asarray(pixels, np.float64)
    if not intr.distorted or len(px) == 0:
        return px
    import cv2

    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
    out = cv2.undistortPointsIter(px.reshape(-1, 1, 2), intr.matrix,
                                  np.asarray(intr.dist, np.float64), None, intr.matrix, criteria)
    return out.reshape(px.shape)
