"""The viewer's subscriber: receive, decode and keep the newest state per track (no Open3D here).

Latest-only consumption: every tick :meth:`StreamClient.poll` drains whatever the SUB socket holds
and keeps, per track, only the newest pose and mesh, so a slow renderer skips frames instead of
falling behind (the SUB queue is small, ``RCVHWM``; older messages are lost there and counted
by ``seq`` gaps). ZeroMQ reconnects a SUB socket by itself; when the publisher restarts its
per-topic ``seq`` starts again at 0, which :class:`StreamState` detects (``seq`` going back) and
answers by forgetting the old tracks. Faces arrive on ``mesh.faces`` after every (re)subscription.
Frames of the opt-in ``preview`` topic (JPEG, subscribed only for ``--overlay preview``) are kept
by ``frame_index``, the newest :data:`PREVIEW_FRAMES` of them, undecoded: they arrive ahead of the
meshes of the same frames, which are matched to them when drawn.

Frames: every array is kept as published (camera frame: x right, y down, z forward, metres);
:mod:`stmocap.viewer.geometry` maps them to the world.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from stmocap.realtime.messages import Message, MessageError, decode
from stmocap.realtime.preview import INPUT as PREVIEW_INPUT
from stmocap.realtime.protocol_schema import HELLO_PREFIX, TOPICS
from stmocap.realtime.schema import check


@dataclass
class Person:
    """The newest state of one track.

    Attributes:
        track: the track id.
        frame_index: source frame of the newest pose.
        t_capture_ns: its capture time (``time.monotonic_ns()`` of the capturing host).
        pose: the pose message's arrays by name (``joints3d (24, 3)``, ``rotmats (24, 3, 3)``,
            ``transl (3,)``, optionally ``T_world_cam (4, 4)`` …), camera frame.
        meta: the pose message's meta (``image_size``, ``focal`` or ``intrinsics`` …).
        vertices: ``(V, 3)`` float32 camera-frame vertices of the newest mesh, or None.
        mesh_frame_index: the frame those vertices describe (-1: none yet).
        updated_ns: local ``time.monotonic_ns()`` of the newest message of this track.
        publish_ns: the newest pose's ``publish`` stamp (publisher's monotonic clock).
    """

    track: int
    frame_index: int = -1
    t_capture_ns: int = 0
    pose: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    vertices: np.ndarray | None = None
    mesh_frame_index: int = -1
    updated_ns: int = 0
    publish_ns: int = 0


# Preview frames kept (≈ 4 s at 30 fps): more than capture → publish of a pose on a slow machine.
PREVIEW_FRAMES = 120


@dataclass
class Preview:
    """One frame of the ``preview`` topic, as received.

    Attributes:
        frame_index: the source frame.
        t_capture_ns: its capture time (same clock as the poses').
        jpeg: ``(N,)`` uint8, the JPEG file's bytes (decode: :func:`stmocap.realtime.preview.
            decode_preview`).
        size: ``(w, h)`` of the JPEG.
        scale: ``(sx, sy)`` from the full image (the pose's ``image_size``) to the JPEG.
    """

    frame_index: int
    t_capture_ns: int
    jpeg: np.ndarray
    size: tuple[int, int]
    scale: tuple[float, float]


@dataclass
class StreamState:
    """What the viewer knows about the stream, updated message by message (pure, no sockets).

    Attributes:
        persons: newest state per track.
        faces: ``(F, 3)`` int32 triangle list, or None before ``mesh.faces`` arrived.
        stats: meta of the newest ``stats`` heartbeat.
        lost: messages this client lost (``seq`` gaps, all topics).
        restarts: how often the publisher was seen to start again (``seq`` went back).
        ended: topics whose ``eos`` marker arrived (cleared when messages come again).
        received: messages applied, per topic.
        malformed: messages that did not decode.
        stale_s: a track not updated for this long is forgotten by :meth:`prune`.
        previews: the newest preview frames by ``frame_index`` (at most :data:`PREVIEW_FRAMES`).
    """

    persons: dict[int, Person] = field(default_factory=dict)
    faces: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    lost: int = 0
    restarts: int = 0
    ended: set[str] = field(default_factory=set)
    received: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    stale_s: float = 1.0
    last_seq: dict[str, int] = field(default_factory=dict)
    last_message_ns: int = 0
    previews: OrderedDict[int, Preview] = field(default_factory=OrderedDict)

    def apply(self, topic: str, msg: Message, now_ns: int | None = None) -> None:
        """Take one decoded message received on ``topic``."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        self.last_message_ns = now
        prev = self.last_seq.get(topic)
        if prev is not None and msg.seq <= prev:
            self._restart()
        elif prev is not None:
            self.lost += msg.seq - prev - 1
        self.last_seq[topic] = msg.seq
        self.received[topic] = self.received.get(topic, 0) + 1
        if msg.kind == "eos":
            self.ended.add(topic)
            self.stats = dict(msg.meta)
            return
        self.ended.discard(topic)
        if msg.kind == "faces":
            self.faces = np.array(msg.arrays["faces"], np.int32)
        elif msg.kind == "stats":
            self.stats = dict(msg.meta)
        elif msg.kind == "preview":
            try:
                check(msg, PREVIEW_INPUT)  # the fields read here, as the publisher checked them
            except MessageError:
                self.malformed += 1
                return
            w, h = msg.meta["size"]
            sx, sy = msg.meta["scale"]
            self.previews[msg.frame_index] = Preview(
                msg.frame_index, msg.t_capture_ns, np.array(msg.arrays["jpeg"], np.uint8),
                (int(w), int(h)), (float(sx), float(sy)))
            while len(self.previews) > PREVIEW_FRAMES:
                self.previews.popitem(last=False)
        elif msg.kind == "pose":
            p = self.persons.setdefault(msg.track, Person(msg.track))
            if msg.frame_index >= p.frame_index:
                p.frame_index, p.t_capture_ns = msg.frame_index, msg.t_capture_ns
                p.pose = {k: np.array(v) for k, v in msg.arrays.items()}
                p.meta = dict(msg.meta)
                p.publish_ns = int(msg.stamps.get("publish", 0))
            p.updated_ns = now
        elif msg.kind == "mesh":
            p = self.persons.setdefault(msg.track, Person(msg.track))
            if msg.frame_index >= p.mesh_frame_index:
                p.vertices = np.array(msg.arrays["vertices"], np.float32)
                p.mesh_frame_index = msg.frame_index
            p.updated_ns = now

    def _restart(self) -> None:
        """The publisher started again: its tracks, seq numbers and faces are no longer valid
        (faces come again on the new subscription)."""
        self.restarts += 1
        self.persons.clear()
        self.last_seq.clear()
        self.ended.clear()
        self.previews.clear()

    def prune(self, now_ns: int | None = None) -> None:
        """Forget tracks not updated for ``stale_s`` seconds (the person left, or the stream
        ended)."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        limit = int(self.stale_s * 1e9)
        for track in [t for t, p in self.persons.items() if now - p.updated_ns > limit]:
            del self.persons[track]

    @property
    def dropped_upstream(self) -> int:
        """Frames the graph dropped before publishing (newest counter seen)."""
        values = [int(p.meta.get("dropped", 0)) for p in self.persons.values()]
        return max([int(self.stats.get("dropped", 0)), *values])

    def newest_capture_ns(self) -> int:
        """Capture time of the newest pose of any track (0: none)."""
        return max((p.t_capture_ns for p in self.persons.values()), default=0)


class StreamClient:
    """A SUB socket on ``endpoint`` feeding a :class:`StreamState`.

    Subscribes to ``topics`` (prefixes; ``mesh`` includes ``mesh.faces``), then says hello
    (docs/protocol.md) so ``stmocap run --wait-subscribers`` counts it. ``queue`` is the socket's
    receive queue in messages: small, so that what waits is recent.
    """

    def __init__(self, endpoint: str, topics: tuple[str, ...] = ("pose", "mesh", "stats"),
                 queue: int = 16, keys: Any = None, client: str = "client",
                 state: StreamState | None = None) -> None:
        import zmq

        self.endpoint = endpoint
        self.state = state if state is not None else StreamState()
        self._zmq = zmq
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, queue)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 100)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        if keys is not None:
            from stmocap.realtime.security import secure_client

            secure_client(self.sock, keys, client)
        self.sock.connect(endpoint)
        unknown = [t for t in topics if not any(full.startswith(t) for full in TOPICS)]
        if unknown:
            self.close()
            raise ValueError(f"unknown topics {unknown}; the stream has {list(TOPICS)}")
        for t in topics:
            self.sock.subscribe(t.encode())
        self.sock.subscribe(HELLO_PREFIX + uuid.uuid4().hex.encode())  # after the topics

    def poll(self, timeout_ms: int = 0, limit: int = 10_000) -> int:
        """Wait up to ``timeout_ms`` for a message, then drain everything queued (at most
        ``limit``) into the state; returns how many messages were taken."""
        zmq = self._zmq
        n = 0
        if not self.sock.poll(timeout_ms):
            return 0
        while n < limit:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            n += 1
            topic = bytes(frames[0].buffer).decode(errors="replace")
            try:
                msg = decode(frames[1:])
            except MessageError:
                self.state.malformed += 1
                continue
            self.state.apply(topic, msg)
        return n

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()

    def __enter__(self) -> StreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
