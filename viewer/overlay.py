"""The fit over the camera image: every person's mesh projected with the published intrinsics and
drawn, shaded and half transparent, on the frame it was estimated from.

Pure numpy + OpenCV (no Open3D): a painter's algorithm over front-facing triangles (far to near),
Lambert-shaded from a light at the camera. Image frame: pixels from the top-left corner (pixel
centres at integers); vertices in the camera frame (x right, y down, z forward, metres).

Where the frames come from (``stmocap view [--record out.mp4] --overlay SOURCE``; on screen the
panel is shown in a second window, :mod:`stmocap.viewer.overlay_window`):

- ``--overlay preview``: the stream's own opt-in ``preview`` topic (``stmocap run --preview``,
  docs/protocol.md), JPEG frames of whatever the run reads, a live camera included
  (:class:`PreviewFrames`). Each mesh is matched to the preview of its ``frame_index``; the
  published intrinsics (of the full image) are scaled by the preview's ``scale``.
- ``--overlay clip.mp4`` (or ``demo``): the same video file the run read (:class:`VideoFrames`):
  the published ``frame_index`` is the frame's number in the file.

:class:`OverlayPanel` draws the newest meshes over their frame; when that frame has no image (a
preview skipped by the run's ``--preview-fps``, lost, or not arrived) it keeps the last panel it
drew rather than putting the meshes on another frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

if TYPE_CHECKING:
    from stmocap.viewer.stream import StreamState


class OverlayFrame(NamedTuple):
    """An image to draw on: ``image (h, w, 3)`` uint8 RGB and ``scale (sx, sy)`` from the full
    camera image (the pose's ``image_size``) to it."""

    image: np.ndarray
    scale: tuple[float, float]


class FrameSource(Protocol):
    """Images by the stream's ``frame_index``."""

    def frame(self, index: int) -> OverlayFrame | None:
        """The image of frame ``index``, or ``None`` when there is none."""

    def close(self) -> None:
        """Release files."""


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

    def frame(self, index: int) -> OverlayFrame | None:
        """Frame ``index`` of the file, at full size."""
        image = self.get(index)
        return None if image is None else OverlayFrame(image, (1.0, 1.0))

    def close(self) -> None:
        self.cap.release()


class PreviewFrames:
    """Frames of the stream's ``preview`` topic (kept by :class:`~stmocap.viewer.stream.
    StreamState`), decoded from JPEG when asked for, at the preview's size."""

    def __init__(self, state: StreamState) -> None:
        self.state = state

    def frame(self, index: int) -> OverlayFrame | None:
        from stmocap.realtime.preview import decode_preview

        p = self.state.previews.get(index)
        if p is None:
            return None
        image = decode_preview(p.jpeg)
        return None if image is None else OverlayFrame(image, p.scale)

    def close(self) -> None:
        """Nothing to release (the state owns the frames)."""


def draw_fit(frame: OverlayFrame, state: StreamState, index: int) -> np.ndarray:
    """``frame``'s image with the meshes of frame ``index`` (every person whose newest mesh is of
    that frame) drawn over it, the published intrinsics scaled to the image."""
    from stmocap.realtime.preview import scale_intrinsics
    from stmocap.viewer import geometry as geo

    people = [p for p in state.persons.values()
              if p.vertices is not None and p.mesh_frame_index == index]
    if not people or state.faces is None:
        return frame.image.copy()
    fx, fy, cx, cy, _, _ = geo.intrinsics_of(people[0].meta)
    fx, fy, cx, cy = scale_intrinsics(fx, fy, cx, cy, frame.scale)
    meshes = [(p.vertices, geo.track_colour(p.track)) for p in people]
    return render_overlay(frame.image, meshes, state.faces, fx, fy, cx, cy)


class OverlayPanel:
    """The overlay half of a recorded frame, ``size (H, W)``: the newest meshes over their own
    frame, letterboxed. ``drawn``: panels drawn; ``missing``: times the newest meshes' frame had
    no image (the last panel was kept)."""

    def __init__(self, frames: FrameSource, size: tuple[int, int]) -> None:
        self.frames = frames
        self.size = size
        self.panel = np.zeros((*size, 3), np.uint8)
        self.index = -1  # frame of the panel drawn last
        self.drawn = 0
        self.missing = 0

    def update(self, state: StreamState, size: tuple[int, int] | None = None) -> np.ndarray:
        """The panel for ``state`` now (``(H, W, 3)`` uint8 RGB; ``size``: another ``(H, W)``)."""
        import cv2

        if size is not None and tuple(size) != self.size:
            self.size = (int(size[0]), int(size[1]))
            self.panel, self.index = np.zeros((*self.size, 3), np.uint8), -1

        people = [p for p in state.persons.values() if p.vertices is not None]
        if not people or state.faces is None:
            return self.panel
        index = max(p.mesh_frame_index for p in people)
        if index == self.index:
            return self.panel
        frame = self.frames.frame(index)
        if frame is None:
            self.missing += 1
            return self.panel
        drawn = draw_fit(frame, state, index)
        H, W = self.size
        s = min(W / drawn.shape[1], H / drawn.shape[0])
        small = cv2.resize(drawn, (max(1, int(drawn.shape[1] * s)), max(1, int(drawn.shape[0] * s))),
                           interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        panel = np.zeros((H, W, 3), np.uint8)
        y, x = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
        panel[y:y + small.shape[0], x:x + small.shape[1]] = small
        self.panel, self.index = panel, index
        self.drawn += 1
        return panel
