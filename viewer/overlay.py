"""The fit over the camera image: every person's mesh projected with the published intrinsics and
drawn, shaded and half transparent, on the frame it was estimated from.

Pure numpy + OpenCV (no Open3D): a painter's algorithm over front-facing triangles (far to near),
Lambert-shaded from a light at the camera. Image frame: pixels from the top-left corner; vertices
in the camera frame (x right, y down, z forward, metres).

Frames come from the same video file the run read (``--overlay clip.mp4``, or ``demo``): the
published ``frame_index`` is the frame's number in the file. A live camera's frames are not on
the stream (the opt-in JPEG preview topic is not published yet; see the report of issue 13).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def render_overlay(image: np.ndarray, meshes: list[tuple[np.ndarray, np.ndarray]], faces: np.ndarray,
                   fx: float, fy: float, cx: float, cy: float, alpha: float = 0.6) -> np.ndarray:
    """``image (H, W, 3)`` uint8 RGB with ``meshes`` drawn over it.

    Args:
        meshes: ``(vertices (V, 3) camera frame, colour (3,) RGB in [0, 1])`` per person.
        faces: ``(F, 3)`` triangle list shared by the meshes.
        fx, fy, cx, cy: pinhole intrinsics of the image (pixels).
        alpha: opacity of the meshes.
    """
    import cv2

    layer = image.copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    polys, depth, shade = [], [], []
    for verts, colour in meshes:
        v = np.asarray(verts, np.float64)
        tri = v[faces]  # (F, 3, 3)
        z = tri[..., 2]
        ok = (z > 0.05).all(axis=1)
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        centre = tri.mean(axis=1)
        facing = (normal * centre).sum(axis=1) < 0  # towards the camera (which is at the origin)
        keep = ok & facing
        tri, normal, centre = tri[keep], normal[keep], centre[keep]
        uv = np.stack([fx * tri[..., 0] / tri[..., 2] + cx, fy * tri[..., 1] / tri[..., 2] + cy], -1)
        lam = np.abs((normal * centre).sum(axis=1)) / (
            np.linalg.norm(normal, axis=1) * np.linalg.norm(centre, axis=1) + 1e-12)
        polys.append(np.round(uv * 4).astype(np.int32))  # 2 bits of sub-pixel precision
        depth.append(centre[:, 2])
        shade.append((0.35 + 0.65 * lam)[:, None] * np.asarray(colour)[None] * 255.0)
    if not polys:
        return image.copy()
    P, D, S = np.concatenate(polys), np.concatenate(depth), np.concatenate(shade)
    for k in np.argsort(-D):  # far to near
        cv2.fillConvexPoly(layer, P[k], tuple(float(c) for c in S[k]), lineType=cv2.LINE_8, shift=2)
        cv2.fillConvexPoly(mask, P[k], 255, lineType=cv2.LINE_8, shift=2)
    out = image.astype(np.float32)
    m = (mask[..., None] > 0) * alpha
    return (out * (1 - m) + layer.astype(np.float32) * m + 0.5).astype(np.uint8)


class VideoFrames:
    """Frames of a video file by index (sequential reads, seeking only when going back or far
    ahead), as RGB ``(H, W, 3)`` uint8."""

    def __init__(self, path: Path | str) -> None:
        import cv2

        if str(path) == "demo":
            from stmocap.groundtruth.demo import demo_clip

            path = demo_clip(progress=False)[0]
        self.cv2 = cv2
        self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise OSError(f"cannot open video {path} for the overlay")
        self.next_index = 0
        self.last: tuple[int, np.ndarray] | None = None

    def get(self, index: int) -> np.ndarray | None:
        if self.last is not None and self.last[0] == index:
            return self.last[1]
        if index < self.next_index or index > self.next_index + 30:
            self.cap.set(self.cv2.CAP_PROP_POS_FRAMES, index)
            self.next_index = index
        frame = None
        while self.next_index <= index:
            ok, frame = self.cap.read()
            self.next_index += 1
            if not ok:
                return None
        rgb = frame[..., ::-1].copy()
        self.last = (index, rgb)
        return rgb

    def close(self) -> None:
        self.cap.release()
