"""Pure geometry the viewer draws: camera → world, floor grid, camera frustum, skeleton, colours.

Frames:
- **camera**: x right, y down, z forward, metres (the published arrays).
- **world**: y up, floor at y = 0, z the camera's forward direction, x = y × z (the camera's
  left), origin on the floor under the camera (docs/camera.md's convention). With a
  ``T_world_cam`` pose array (metric camera placement) that transform is used. Without it the
  fallback is the camera turned upright (``diag(-1, -1, 1)``, a 180° turn about z: a level
  camera) and lifted so that the lowest point seen so far (mesh vertex, else joint) stands on
  the floor (:class:`WorldFrame`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
UPRIGHT = np.diag([-1.0, -1.0, 1.0])  # camera (x right, y down) → x left, y up; a rotation

# Distinct, colour-blind-friendly mesh colours (Okabe–Ito), RGB in [0, 1]; track id → colour.
PALETTE = np.array([
    [0.90, 0.62, 0.00], [0.34, 0.71, 0.91], [0.00, 0.62, 0.45], [0.94, 0.89, 0.26],
    [0.00, 0.45, 0.70], [0.84, 0.37, 0.00], [0.80, 0.47, 0.65],
])


def track_colour(track: int) -> np.ndarray:
    """``(3,)`` RGB colour of a track id (stable: the same id always gets the same colour)."""
    return PALETTE[track % len(PALETTE)]


def apply(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 3)`` points through a ``(4, 4)`` rigid transform."""
    return points @ T[:3, :3].T + T[:3, 3]


@dataclass
class WorldFrame:
    """Camera → world for the viewer (see the module docstring). ``floor_y`` is the fallback's
    running estimate: the lowest upright-frame joint height seen (None before any)."""

    floor_y: float | None = None
    published: np.ndarray | None = field(default=None, repr=False)

    def update(self, pose: dict[str, np.ndarray], vertices: np.ndarray | None = None) -> None:
        """Take one pose message's arrays (``T_world_cam (4, 4)`` if present, ``joints3d (24, 3)``)
        and optionally its mesh's ``vertices (V, 3)``, camera frame."""
        if "T_world_cam" in pose:
            self.published = np.asarray(pose["T_world_cam"], np.float64)
            return
        points = vertices if vertices is not None else pose.get("joints3d")
        if points is not None and len(points):
            low = float((np.asarray(points, np.float64) @ UPRIGHT.T)[:, 1].min())
            self.floor_y = low if self.floor_y is None else min(self.floor_y, low)

    def reset(self) -> None:
        self.floor_y, self.published = None, None

    @property
    def camera_to_world(self) -> np.ndarray:
        """``(4, 4)`` camera → world."""
        if self.published is not None:
            return self.published
        T = np.eye(4)
        T[:3, :3] = UPRIGHT
        T[1, 3] = -(self.floor_y if self.floor_y is not None else -1.5)
        return T


def intrinsics_of(meta: dict[str, Any]) -> tuple[float, float, float, float, int, int]:
    """``(fx, fy, cx, cy, W, H)`` from a pose message's meta: ``intrinsics`` when published
    (metric placement), else ``focal`` with the principal point at the image centre."""
    k = meta.get("intrinsics")
    if isinstance(k, dict) and {"fx", "fy", "cx", "cy"} <= set(k):
        W, H = k.get("size", meta.get("image_size", (640, 480)))
        return float(k["fx"]), float(k["fy"]), float(k["cx"]), float(k["cy"]), int(W), int(H)
    W, H = meta.get("image_size", (640, 480))
    f = float(meta.get("focal", max(W, H)))
    return f, f, (W - 1) / 2, (H - 1) / 2, int(W), int(H)


def frustum_lines(fx: float, fy: float, cx: float, cy: float, W: int, H: int,
                  depth: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """The camera's pyramid in the camera frame: ``points (5, 3)`` (centre, then the image corners
    at ``depth`` metres) and ``lines (8, 2)`` index pairs."""
    corners = [((u - cx) / fx * depth, (v - cy) / fy * depth, depth)
               for u, v in ((0, 0), (W - 1, 0), (W - 1, H - 1), (0, H - 1))]
    points = np.array([[0.0, 0.0, 0.0], *corners])
    lines = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1]])
    return points, lines


def grid_lines(half: float = 3.0, step: float = 0.5, centre_z: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A floor grid in the world plane y = 0: ``x, z - centre_z`` in ``[-half, half]`` (in front
    of the camera by default): ``points (N, 3)``, ``lines (N/2, 2)``."""
    ticks = np.arange(-half, half + 1e-9, step)
    pts = []
    for t in ticks:
        pts += [[t, 0.0, centre_z - half], [t, 0.0, centre_z + half],
                [-half, 0.0, centre_z + t], [half, 0.0, centre_z + t]]
    points = np.array(pts)
    return points, np.arange(len(points)).reshape(-1, 2)


def skeleton_lines(parents: tuple[int, ...] = SMPL_PARENTS) -> np.ndarray:
    """``(J-1, 2)`` child–parent index pairs of the kinematic tree."""
    return np.array([[j, p] for j, p in enumerate(parents) if p >= 0])
