"""The opt-in ``preview`` topic: the captured frames as JPEG, so a client can draw the fit over them.

Frames exist only in the source process, and the publisher lives in the last one. The preview
travels on a side channel of its own, never through the stages' queues (where it would hold
frames back):

- :class:`PreviewSender`, in the source process, takes a frame after it went downstream
  (:meth:`~PreviewSender.offer` only stores a reference: the source never waits), and a thread of
  its own downscales it, encodes the JPEG and pushes it, non-blocking, on a PUSH socket that
  queues one message. Latest-only: a frame offered while the thread is busy replaces the one
  waiting, a full socket drops it. Nothing is encoded while no client subscribes to the topic
  (``demand``, set by the publisher) nor more often than ``--preview-fps``.
- :class:`PreviewInbox`, in the publisher's thread, drains its PULL socket, checks each message
  against :data:`INPUT` (counted and dropped when it does not fit) and hands the newest on.

Message ``preview`` (inside the graph and on the wire, docs/protocol.md): array ``jpeg (N,)
uint8`` (a baseline JPEG of the frame, 3 channels), header ``frame_index`` and ``t_capture_ns`` of
the captured frame, ``track`` -1, stamps ``source``, ``preview`` (encoded); meta ``image_size`` [W,
H] of the full frame, ``size`` [w, h] of the JPEG, ``scale`` [sx, sy] = [w / W, h / H] and
``quality``. Pixel ``(u, v)`` of the full image (pixel centres at integers, as the published
intrinsics use) is ``(sx (u + ½) − ½, sy (v + ½) − ½)`` in the JPEG, so ``fx' = sx fx``,
``cx' = sx (cx + ½) − ½`` (likewise y): :func:`scale_intrinsics`.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from stmocap.realtime.messages import Message, MessageError, decode, encode
from stmocap.realtime.schema import ArrayRule, KindSchema, check, image_size

from stmocap.validate import NON_NEGATIVE, Range

MAX_JPEG_BYTES = 32 << 20  # a 8192-pixel-wide frame at quality 100 stays far below


def preview_width(value: int) -> None:
    """``--preview-width``: 0 (full size) or 16..65535 pixels."""
    if value != 0 and not 16 <= value <= 65535:
        raise ValueError(f"must be 0 (full size) or in 16..65535 (got {value})")


@dataclass(frozen=True)
class PreviewConfig:
    """The opt-in preview topic: the captured frames as JPEG (docs/protocol.md)."""

    preview: bool = field(default=False, metadata={
        "help": "also publish the captured frames as JPEG on the 'preview' topic (for `stmocap "
                "view --overlay preview`); encoded in the source process only while a "
                "client subscribes, latest-only"})
    preview_quality: int = field(default=80, metadata={"check": Range(1, 100),
        "help": "JPEG quality of the preview, 1..100"})
    preview_width: int = field(default=640, metadata={"check": preview_width,
        "help": "largest preview width in pixels; wider frames are scaled down, keeping their "
                "aspect ratio (0: full size)"})
    preview_fps: float = field(default=15.0, metadata={"check": NON_NEGATIVE,
        "help": "at most this many preview frames a second (0: every frame the pipeline takes)"})


def _positive_pair(value: Any) -> bool:
    return (isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    and 0 < v <= 1 for v in value))


def _quality(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100


# What the publisher reads from a preview message that came over the side channel.
INPUT = KindSchema({"jpeg": ArrayRule(("uint8",), (None,))},
                   {"image_size": image_size, "size": image_size, "scale": _positive_pair,
                    "quality": _quality})


def preview_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The preview's ``(w, h)`` for a ``width × height`` frame: at most ``max_width`` wide (0: no
    limit), the aspect ratio kept (``h`` rounded, at least 1)."""
    if max_width <= 0 or width <= max_width:
        return width, height
    return max_width, max(1, round(height * max_width / width))


def encode_preview(image: np.ndarray, quality: int, max_width: int
                   ) -> tuple[np.ndarray, tuple[int, int], tuple[float, float]]:
    """JPEG of ``image (H, W, 3)`` uint8 RGB, scaled down to at most ``max_width`` pixels wide.

    Returns ``(jpeg (N,) uint8, (w, h) of the JPEG, (sx, sy) = (w / W, h / H))``.
    """
    import cv2

    H, W = image.shape[:2]
    w, h = preview_size(W, H, max_width)
    small = image if (w, h) == (W, H) else cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {w}x{h} JPEG")
    return buf.reshape(-1), (w, h), (w / W, h / H)


def decode_preview(jpeg: np.ndarray) -> np.ndarray | None:
    """``(h, w, 3)`` uint8 RGB of a preview's ``jpeg`` array (``None``: not a decodable JPEG)."""
    import cv2

    bgr = cv2.imdecode(np.ascontiguousarray(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def scale_intrinsics(fx: float, fy: float, cx: float, cy: float, scale: tuple[float, float]
                     ) -> tuple[float, float, float, float]:
    """Pinhole intrinsics of the full image → those of the preview (``scale = (sx, sy)``; pixel
    centres kept: ``c' = s (c + ½) − ½``)."""
    sx, sy = float(scale[0]), float(scale[1])
    return fx * sx, fy * sy, sx * (cx + 0.5) - 0.5, sy * (cy + 0.5) - 0.5


def preview_message(frame_index: int, t_capture_ns: int, source_ns: int, image: np.ndarray,
                    cfg: PreviewConfig, stream: str = "main") -> Message:
    """The ``preview`` message of one captured frame (``image (H, W, 3)`` uint8 RGB), stamped
    ``source`` (when it was captured and sent on) and ``preview`` (encoded now)."""
    jpeg, size, scale = encode_preview(image, cfg.preview_quality, cfg.preview_width)
    H, W = image.shape[:2]
    msg = Message(kind="preview", seq=frame_index, stream=stream, frame_index=frame_index,
                  track=-1, t_capture_ns=t_capture_ns, stamps={"source": source_ns},
                  arrays={"jpeg": jpeg},
                  meta={"image_size": [int(W), int(H)], "size": [int(size[0]), int(size[1])],
                        "scale": [float(scale[0]), float(scale[1])],
                        "quality": int(cfg.preview_quality)})
    return msg.stamp("preview")


class PreviewSender:
    """The source process's side of the preview: a latest-only slot and an encoding thread.

    ``demand`` is anything with ``is_set()`` (the publisher sets it while a client subscribes to
    the topic). Counters, for tests and diagnostics: ``sent`` (pushed), ``replaced`` (offered frames
    overwritten before the thread took them), ``full`` (dropped because the socket's one-message
    queue was full).
    """

    def __init__(self, ctx: Any, endpoint: str, cfg: PreviewConfig, demand: Any) -> None:
        self.cfg = cfg
        self.demand = demand
        self.period_ns = int(1e9 / cfg.preview_fps) if cfg.preview_fps > 0 else 0
        self.sent = self.replaced = self.full = 0
        self._last_ns: int | None = None
        self._slot: tuple[int, int, int, np.ndarray, str] | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._error: BaseException | None = None
        self._ctx, self._endpoint = ctx, endpoint
        self._thread = threading.Thread(target=self._run, name="preview", daemon=True)
        self._thread.start()

    def offer(self, frame_index: int, t_capture_ns: int, source_ns: int, image: np.ndarray,
              stream: str = "main") -> bool:
        """Hand over a frame that went downstream (``image`` must not change afterwards); True if
        it was taken (someone subscribes and the rate cap allows it). Never blocks on encoding."""
        if self._error is not None:
            raise RuntimeError(f"preview thread failed: {self._error}") from self._error
        if not self.demand.is_set():
            return False
        now = time.monotonic_ns()
        if self.period_ns and self._last_ns is not None and now - self._last_ns < self.period_ns:
            return False
        self._last_ns = now
        with self._cond:
            if self._slot is not None:
                self.replaced += 1
            self._slot = (frame_index, t_capture_ns, source_ns, image, stream)
            self._cond.notify()
        return True

    def _run(self) -> None:
        import zmq

        sock = self._ctx.socket(zmq.PUSH)
        sock.setsockopt(zmq.SNDHWM, 1)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # nothing queues for a publisher not connected yet
        sock.connect(self._endpoint)
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._slot is not None or self._closing)
                    if self._slot is None:
                        return
                    item, self._slot = self._slot, None
                index, t_capture, source_ns, image, stream = item
                msg = preview_message(index, t_capture, source_ns, image, self.cfg, stream)
                try:
                    sock.send_multipart(encode(msg), flags=zmq.NOBLOCK, copy=False)
                    self.sent += 1
                except zmq.Again:
                    self.full += 1
        except BaseException as exc:  # reported to the source loop on its next offer
            self._error = exc
        finally:
            sock.close(0)

    def close(self) -> None:
        """Stop the thread (a frame still waiting is not sent) and close its socket."""
        with self._cond:
            self._closing = True
            self._slot = None
            self._cond.notify()
        self._thread.join(5.0)


class PreviewInbox:
    """The publisher's side: a PULL socket bound on ``endpoint`` whose newest valid message
    :meth:`take` returns; messages that do not decode or fit :data:`INPUT` are counted in
    ``rejected`` (``reasons``: why) and dropped."""

    def __init__(self, ctx: Any, endpoint: str) -> None:
        import zmq

        self._zmq = zmq
        self.sock = ctx.socket(zmq.PULL)
        self.sock.setsockopt(zmq.RCVHWM, 1)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_JPEG_BYTES)
        self.sock.bind(endpoint)
        self.rejected = 0
        self.reasons: dict[str, int] = {}
        self.received = 0

    def take(self) -> Message | None:
        """Drain the socket; the newest valid preview (older ones are dropped), or ``None``."""
        newest = None
        while True:
            try:
                frames = self.sock.recv_multipart(self._zmq.NOBLOCK, copy=False)
            except self._zmq.Again:
                return newest
            self.received += 1
            try:
                msg = decode(frames)
                if msg.kind != "preview":
                    raise MessageError(f"kind {msg.kind[:40]!r} on the preview channel")
                check(msg, INPUT)
            except MessageError as exc:
                self.rejected += 1
                reason = str(exc)[:120]
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
                continue
            if newest is None or msg.frame_index > newest.frame_index:
                newest = msg

    def close(self) -> None:
        self.sock.close(0)


@dataclass(frozen=True)
class PreviewLink:
    """What the publishing process needs for the preview: the side channel's ``endpoint``, the
    ``demand`` flag it sets while a client subscribes (shared with the source process) and its
    own process ``index`` (its rejected previews are counted under it in the stats)."""

    endpoint: str
    demand: Any
    index: int
