"""The live overlay: a second Open3D window showing the overlay panel (the fit over the camera
image, :class:`stmocap.viewer.overlay.OverlayPanel`) while ``stmocap view --overlay`` runs with a
screen. (With ``--record`` the panel goes into the video instead.)

The image is an ``open3d.geometry.Image`` whose pixels are rewritten in place each frame and
redrawn with ``update_geometry`` (legacy ``Visualizer``), so nothing is re-uploaded as a new
geometry unless the image size changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stmocap.viewer.scene import Window, open3d


class OverlayWindow(Window):
    """A window of ``width × height`` pixels showing ``(H, W, 3)`` uint8 RGB images."""

    def __init__(self, width: int, height: int, visible: bool = True,
                 title: str = "stmocap overlay") -> None:
        o3d = open3d()
        self.o3d = o3d
        self._open(o3d.visualization.Visualizer(), title, width, height, visible)
        self.vis.get_render_option().background_color = np.zeros(3)
        self.image: Any = None
        self.pixels: np.ndarray | None = None

    def show(self, rgb: np.ndarray) -> None:
        """Show ``rgb (H, W, 3)`` uint8 (fitted into the window, aspect kept)."""
        rgb = np.ascontiguousarray(rgb, np.uint8)
        if self.pixels is None or self.pixels.shape != rgb.shape:
            if self.image is not None:
                self.vis.remove_geometry(self.image, reset_bounding_box=False)
            self.image = self.o3d.geometry.Image(rgb.copy())
            self.pixels = np.asarray(self.image)
            self.vis.add_geometry(self.image)
        else:
            self.pixels[...] = rgb
            self.vis.update_geometry(self.image)
