"""Frame sources: webcam (newest frame only), video file (lossless or paced), image folder.

Every source yields :class:`Frame` objects (RGB ``uint8 (H, W, 3)`` and the capture time on the
monotonic clock) and raises :class:`SourceError` with one line the user can act on.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from stmocap.realtime.messages import Message

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class SourceError(RuntimeError):
    """A source cannot deliver frames; the message is one line for the user."""


class Frame(NamedTuple):
    """One captured frame: ``index`` from 0, RGB ``image (H, W, 3) uint8``, monotonic ns."""

    index: int
    image: np.ndarray
    t_capture_ns: int


@dataclass(frozen=True)
class SourceConfig:
    """Where frames come from and how."""

    source: str = field(default="0", metadata={
        "help": "webcam index (0), device path (/dev/video0), video file, folder of images, or "
                "demo (a built-in rendered clip of motion capture; no camera needed)"})
    width: int = field(default=640, metadata={"help": "webcam width to request"})
    height: int = field(default=480, metadata={"help": "webcam height to request"})
    fps: float = field(default=30.0, metadata={"help": "webcam rate to request; image-folder rate"})
    realtime: bool = field(default=False, metadata={
        "help": "pace a video file or image folder at its fps and drop frames when behind, like "
                "a camera (default: lossless, as fast as the pipeline goes)"})


def _cv2() -> Any:
    import cv2

    return cv2


class FrameSource(ABC):
    """Base class. ``live`` sources keep only the newest frame and count what they drop.
    ``media_clock``: the content's own time is ``index / fps`` (files, folders); cameras have only
    their capture times."""

    live: bool = False
    media_clock: bool = True
    fps: float = 30.0
    size: tuple[int, int] = (0, 0)  # (width, height)
    description: str = ""

    def __init__(self) -> None:
        self.dropped = 0

    def _skip_late(self, pacer: _Pacer | None, index: int, last: int) -> int:
        """With a pacer, jump ahead over the frames a camera would have overwritten by now
        (counted in ``dropped``, never past ``last``); returns the index to deliver."""
        if pacer is None:
            return index
        skip = min(pacer.wait(index), last - index)
        self.dropped += skip
        return index + skip

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or ``None`` at the end of a finite source."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or file."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pacer:
    """Sleeps so that frame ``i`` is released at ``start + i / fps``; reports frames it is behind."""

    def __init__(self, fps: float) -> None:
        self.period_ns = int(1e9 / fps)
        self.start_ns: int | None = None

    def wait(self, index: int) -> int:
        now = time.monotonic_ns()
        if self.start_ns is None:
            self.start_ns = now
        due = self.start_ns + index * self.period_ns
        if due > now:
            time.sleep((due - now) / 1e9)
            return 0
        return (now - due) // self.period_ns  # how many frame periods late


class VideoFileSource(FrameSource):
    """A video file, every frame in order (lossless) or paced at its fps (``realtime``)."""

    def __init__(self, path: Path, realtime: bool = False) -> None:
        super().__init__()
        cv2 = _cv2()
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"video file not found: {path}")
        self.path = path
        self.cap = cv2.VideoCapture(str(path))
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok:
            self.cap.release()
            raise SourceError(f"cannot read video {path}: not a video, unsupported codec, or corrupt")
        self._pending: np.ndarray | None = first
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS)) or 30.0
        self.frame_count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.size = (first.shape[1], first.shape[0])
        self.live = realtime
        self._pacer = _Pacer(self.fps) if realtime else None
        self._index = 0
        self.description = f"{path.name} ({self.size[0]}×{self.size[1]}, {self.fps:g} fps, " \
                           f"{self.frame_count} frames)"

    def _next_bgr(self) -> np.ndarray | None:
        if self._pending is not None:
            img, self._pending = self._pending, None
            return img
        ok, img = self.cap.read()
        return img if ok else None

    def read(self) -> Frame | None:
        img = self._next_bgr()
        if img is None:
            # A container that promised more frames than it holds was cut short.
            if self.frame_count > 0 and self._index < self.frame_count - 1:
                raise SourceError(f"video {self.path.name} is truncated or corrupt: read "
                                  f"{self._index} of {self.frame_count} frames")
            return None
        if self._pacer is not None:
            late = self._pacer.wait(self._index)
            for _ in range(late):  # a camera would have overwritten these frames
                if self._next_bgr() is None:
                    break
                self._index += 1
                self.dropped += 1
        frame = Frame(self._index, _cv2().cvtColor(img, _cv2().COLOR_BGR2RGB), time.monotonic_ns())
        self._index += 1
        return frame

    def close(self) -> None:
        self.cap.release()


class ImageFolderSource(FrameSource):
    """Images of a folder in name order; ``realtime`` paces them at ``fps``."""

    def __init__(self, folder: Path, fps: float = 30.0, realtime: bool = False) -> None:
        super().__init__()
        folder = Path(folder)
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
        self.fps = fps
        self.live = realtime
        self._pacer = _Pacer(fps) if realtime else None
        self._index = 0
        first = self._load(self.files[0])
        self.size = (first.shape[1], first.shape[0])
        self.description = f"{folder} ({len(self.files)} images)"

    @staticmethod
    def _load(path: Path) -> np.ndarray:
        cv2 = _cv2()
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceError(f"cannot read image {path}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def read(self) -> Frame | None:
        if self._index >= len(self.files):
            return None
        self._index = self._skip_late(self._pacer, self._index, len(self.files) - 1)
        frame = Frame(self._index, self._load(self.files[self._index]), time.monotonic_ns())
        self._index += 1
        return frame


class LatestFrameGrabber:
    """Reads a capture in a thread and keeps only the newest frame (V4L2 queues ~4 otherwise).

    ``capture`` is anything with ``read() -> (ok, bgr)``. :meth:`get` returns each frame at most
    once; frames overwritten before anyone took them are counted in ``dropped``. ``grabbed``
    numbers the frames read from the capture (from 0), so an overwritten frame leaves a gap in the
    numbers :meth:`get` returns.
    """

    def __init__(self, capture: Any, name: str = "capture") -> None:
        self.capture = capture
        self.dropped = 0
        self.ended = False
        self.grabbed = 0
        self._latest: tuple[np.ndarray, int, int] | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            ok, img = self.capture.read()
            t = time.monotonic_ns()
            with self._cond:
                if not ok:
                    self.ended = True
                    self._cond.notify_all()
                    return
                if self._latest is not None:
                    self.dropped += 1
                self._latest = (img, t, self.grabbed)
                self.grabbed += 1
                self._cond.notify_all()

    def get(self, timeout: float) -> tuple[np.ndarray, int, int] | None:
        """Newest untaken frame (BGR, capture ns, its number among the grabbed frames); ``None``
        if the capture ended or timed out."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._latest is not None or self.ended, timeout):
                return None
            item, self._latest = self._latest, None
            return item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


class WebcamSource(FrameSource):
    """A camera by index or device path, read by a thread that keeps only the newest frame."""

    live = True
    media_clock = False

    def __init__(self, device: int | str, width: int = 640, height: int = 480, fps: float = 30.0,
                 stall_timeout: float = 5.0) -> None:
        super().__init__()
        cv2 = _cv2()
        if isinstance(device, str) and not os.path.exists(device):
            raise SourceError(f"camera device {device} does not exist")
        self.cap = cv2.VideoCapture(device)
        if not self.cap.isOpened():
            raise SourceError(f"no camera at {device!r}: check it is connected and not used by "
                              "another program (or give a video file with --source)")
        self.cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS)) or fps
        self.size = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.stall_timeout = stall_timeout
        self.grabber = LatestFrameGrabber(self.cap, name=f"camera-{device}")
        self._taken = 0
        self.description = f"camera {device} ({self.size[0]}×{self.size[1]}, {self.fps:g} fps)"

    def read(self) -> Frame | None:
        item = self.grabber.get(self.stall_timeout)
        if item is None:
            self.dropped = self.grabber.dropped
            raise SourceError(f"camera stopped delivering frames (none for {self.stall_timeout:g} s)")
        img, t, number = item
        # The grabbed frame's own number: frames the grabber overwrote leave a gap, and the drops
        # counted with this frame are exactly the frames before it that were never delivered.
        self.dropped = number - self._taken
        self._taken += 1
        return Frame(number, _cv2().cvtColor(img, _cv2().COLOR_BGR2RGB), t)

    def close(self) -> None:
        self.grabber.stop()
        self.cap.release()


def demo_frames(count: int = 300, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """A clip of a real person without any download: matplotlib's bundled photo of Grace Hopper,
    slowly panned and zoomed by a virtual camera (RGB uint8 frames). The person does not move;
    the camera does. (``--source demo`` is the rendered motion-capture clip; this real photo is
    for tests and benchmarks of the lite profile on a real person.)"""
    import matplotlib.cbook as cbook

    cv2 = _cv2()
    photo = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    photo = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    W, H = size
    ph, pw = photo.shape[:2]
    frames = []
    for i in range(count):
        t = i / max(count - 1, 1)
        zoom = 1.0 + 0.15 * np.sin(2 * np.pi * t)
        scale = min(W / pw, H / ph) * 0.9 * zoom
        dx = W / 2 + 40 * np.sin(4 * np.pi * t)
        dy = H / 2 + 15 * np.cos(2 * np.pi * t)
        M = np.array([[scale, 0, dx - scale * pw / 2], [0, scale, dy - scale * ph / 2]])
        frames.append(cv2.warpAffine(photo, M, (W, H), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(32, 32, 32)))
    return frames


def frame_message(frame: Frame, fps: float, dropped: int, media_clock: bool = False) -> Message:
    """The graph's ``frame`` message for a captured frame, stamped by the ``source`` stage. With
    ``media_clock`` (files, folders) ``meta["t_media"]`` holds the content's time, ``index / fps``
    seconds, which temporal filters use instead of the capture time (see
    :func:`stmocap.realtime.messages.content_time`)."""
    meta: dict[str, float | int] = {"fps": fps, "dropped": dropped}
    if media_clock:
        meta["t_media"] = frame.index / fps
    return Message(kind="frame", seq=frame.index, stream="main", frame_index=frame.index,
                   t_capture_ns=frame.t_capture_ns, arrays={"image": frame.image},
                   meta=meta).stamp("source")


def prepare_source(cfg: SourceConfig) -> Path | None:
    """Make what a source needs before the graph starts: for ``demo``, render the clip on first use
    (with a progress bar, in the calling process) and return its path; otherwise nothing."""
    if cfg.source.strip() != "demo":
        return None
    from stmocap.groundtruth.demo import demo_clip

    try:
        return demo_clip(progress=sys.stderr.isatty())[0]
    except OSError as exc:
        raise SourceError(f"cannot write the demo clip ({exc}); set STMOCAP_CACHE to a writable "
                          "folder") from exc


def open_source(cfg: SourceConfig) -> FrameSource:
    """Open what ``cfg.source`` names: ``demo``, an integer (camera index), ``/dev/…`` (camera), a
    folder (images) or a file (video)."""
    text = cfg.source.strip()
    if text == "demo":
        source = VideoFileSource(prepare_source(cfg), cfg.realtime)
        source.description = f"demo (rendered motion capture, {source.description})"
        return source
    if re.fullmatch(r"\d+", text):
        return WebcamSource(int(text), cfg.width, cfg.height, cfg.fps)
    if text.startswith("/dev/"):
        return WebcamSource(text, cfg.width, cfg.height, cfg.fps)
    path = Path(text).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, cfg.fps, cfg.realtime)
    if not path.exists():
        raise SourceError(f"source not found: {text} (give a camera index, /dev/videoN, a video "
                          "file or a folder of images)")
    return VideoFileSource(path, cfg.realtime)
