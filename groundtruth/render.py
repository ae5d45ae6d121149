"""A small headless mesh renderer: pinhole camera, flat Lambert shading, painter's algorithm.

Frames: vertices are given in the camera frame (OpenCV: x right, y down, z forward, metres);
pixels have their origin at the top-left corner. Triangles facing away from the camera are culled,
the rest are sorted far-to-near and filled with OpenCV at 1/16-pixel precision. No GPU, no display,
deterministic. Good enough for a closed body mesh seen from outside (tens of thousands of faces at
video rate); it does not resolve intersecting triangles exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # fractional bits for cv2.fillConvexPoly


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics: focal lengths and principal point in pixels, image size ``(width, height)``."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @staticmethod
    def centred(focal: float, width: int, height: int) -> PinholeCamera:
        return PinholeCamera(focal, focal, width / 2.0, height / 2.0, width, height)

    @property
    def matrix(self) -> np.ndarray:
        """``K (3, 3)``."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame ``(..., 3)`` → pixels ``(..., 2)``."""
        z = np.maximum(points[..., 2:3], 1e-6)
        return points[..., :2] / z * np.array([self.fx, self.fy]) + np.array([self.cx, self.cy])


@dataclass(frozen=True)
class Light:
    """Directional light (direction the light travels, camera frame) plus ambient term."""

    direction: tuple[float, float, float] = (0.3, 0.6, 1.0)
    ambient: float = 0.35
    diffuse: float = 0.65


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normals ``(F, 3)`` of triangles ``faces (F, 3)`` over ``vertices (V, 3)``
    (right-handed winding)."""
    v = vertices[faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def render_mesh(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray,
                camera: PinholeCamera, light: Light = Light(), near: float = 0.05) -> np.ndarray:
    """Draw a mesh onto ``image (H, W, 3) uint8`` (BGR) in place and return it.

    Args:
        vertices: ``(V, 3)`` camera frame, metres.
        faces: ``(F, 3)`` vertex indices, counter-clockwise seen from outside.
        face_colors: ``(F, 3)`` BGR in 0..1 (albedo).
    """
    if image.shape[:2] != (camera.height, camera.width):
        raise ValueError(f"image is {image.shape[1]}x{image.shape[0]}, camera {camera.width}x{camera.height}")
    tri = vertices[faces]  # (F, 3, 3)
    normals = face_normals(vertices, faces)
    centre = tri.mean(1)
    facing = (normals * centre).sum(1) < 0
    in_front = tri[:, :, 2].min(1) > near
    keep = np.flatnonzero(facing & in_front)
    if keep.size == 0:
        return image
    light_dir = np.asarray(light.direction, dtype=np.float64)
    light_dir = light_dir / np.linalg.norm(light_dir)
    shade = light.ambient + light.diffuse * np.clip(-(normals[keep] @ light_dir), 0.0, 1.0)
    colors = np.clip(face_colors[keep] * shade[:, None] * 255.0, 0, 255).astype(np.int32)
    pixels = np.round(camera.project(tri[keep]) * (1 << _SHIFT)).astype(np.int32)  # (K, 3, 2)
    order = np.argsort(-centre[keep, 2], kind="stable")
    for i in order:
        c = colors[i]
        cv2.fillConvexPoly(image, pixels[i], (int(c[0]), int(c[1]), int(c[2])), cv2.LINE_8, _SHIFT)
    return image
