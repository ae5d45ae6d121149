"""Real media for the realtime tests: small generated video files and image folders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def write_video(path: Path, frames: int, fps: float = 30.0, size: tuple[int, int] = (160, 120),
                fourcc: str = "MJPG") -> Path:
    """Write a video whose frame ``i`` is a flat grey of level ``(8·i) % 256`` with a moving square."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for i in range(frames):
        img = np.full((h, w, 3), (8 * i) % 256, np.uint8)
        x = (4 * i) % (w - 20)
        img[40:60, x:x + 20] = (0, 0, 255)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture()
def video_file(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi", 40)
