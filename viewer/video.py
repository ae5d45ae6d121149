"""H.264 MP4 writing with PyAV (OpenCV's pip wheel cannot encode H.264): ``pip install
'stmocap[record]'``."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from stmocap.optional import require


class VideoWriter:
    """Frames ``(H, W, 3)`` uint8 RGB → ``path`` (H.264, yuv420p, constant ``fps``). W and H must
    be even (yuv420p); odd sizes are cropped by one pixel."""

    def __init__(self, path: Path, width: int, height: int, fps: float = 30.0, crf: int = 20) -> None:
        av = require("av", "record", "PyAV writes H.264")
        self.width, self.height = width - width % 2, height - height % 2
        self._av = av
        self.container: Any = av.open(str(path), mode="w")
        rate = Fraction(fps).limit_denominator(1000)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        img = np.ascontiguousarray(rgb[: self.height, : self.width, :3])
        frame = self._av.VideoFrame.from_ndarray(img, format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
