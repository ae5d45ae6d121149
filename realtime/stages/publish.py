"""Publish stage: the public stream on an XPUB socket (topics ``pose``, ``mesh``, ``stats``).

Each topic message is ``[topic, header, buffers…]`` in the wire format of
:mod:`stmocap.realtime.messages`; ``docs/protocol.md`` documents the fields. Faces go out on
``mesh.faces`` once per subscriber: XPUB reports each new subscription to a ``mesh`` prefix and
the faces follow it. A slow subscriber only loses its own messages (PUB drops at its queue limit);
the pipeline never waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zmq
from stmocap.realtime.messages import Message, encode
from stmocap.realtime.schema import ArrayRule, KindSchema, schemas
from stmocap.realtime.security import secure_server, warn_if_open
from stmocap.realtime.stages.base import Stage
from stmocap.realtime.stats import StreamStats

POSE_KEYS = ("rotmats", "pose_aa", "betas", "cam", "transl", "joints3d", "joints2d", "box")


@dataclass(frozen=True)
class PublishConfig:
    """Where and how the stream is published."""

    endpoint: str = field(default="tcp://127.0.0.1:5556", metadata={
        "help": "ZeroMQ endpoint to publish on (loopback by default; tcp://0.0.0.0:5556 for all)"})
    keys: Path | None = field(default=None, metadata={
        "help": "folder made by `stmocap keys`: encrypt with CURVE and accept only its clients"})
    stats_period: float = field(default=1.0, metadata={"help": "seconds between stats messages"})
    queue: int = field(default=64, metadata={
        "help": "messages queued per subscriber before a slow one loses messages"})


class PublishStage(Stage):
    name = "publish"
    consumes = ("faces", "body")
    produces = ()
    inputs = schemas({"faces": KindSchema({"faces": ArrayRule(("int32", "int64"), (None, 3))}),
              "body": KindSchema({"vertices": ArrayRule(("float32",), (None, 3))})})

    def __init__(self, config: PublishConfig, report: Callable[[dict[str, Any]], None] | None = None,
                 keep_records: bool = False, wait_subscribers: int = 0,
                 wait_timeout: float = 60.0) -> None:
        self.config = config
        self.report = report
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.sock.setsockopt(zmq.SNDHWM, config.queue)
        self.sock.setsockopt(zmq.LINGER, 500)
        self.auth = secure_server(self.sock, self.ctx, config.keys) if config.keys else None
        warn_if_open(config.endpoint, config.keys)
        self.sock.bind(config.endpoint)
        self.faces: np.ndarray | None = None
        self.stats = StreamStats(keep_all=keep_records)
        self.extra: dict[str, Any] = {"dropped": 0, "rejected": {}}
        self._next_stats = time.monotonic() + config.stats_period
        if wait_subscribers:
            self._wait_for(wait_subscribers, wait_timeout)

    def _wait_for(self, count: int, timeout: float) -> None:
        """Block until ``count`` clients subscribed to the ``pose`` topic (clients that must not
        miss frame 0). Only subscriptions covering ``pose`` count: one client subscribing to
        several topics sends several subscriptions."""
        seen = 0
        deadline = time.monotonic() + timeout
        while seen < count:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                raise TimeoutError(f"only {seen} of {count} subscribers connected to "
                                   f"{self.config.endpoint} within {timeout:g} s")
            event = self.sock.recv()
            if event[:1] == b"\x01" and b"pose".startswith(event[1:]):
                seen += 1

    def _send(self, topic: bytes, msg: Message) -> None:
        self.sock.send_multipart([topic, *encode(msg)], copy=False)

    def _subscriptions(self) -> None:
        while True:
            try:
                event = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if event[:1] == b"\x01" and self.faces is not None:
                topic = event[1:]
                if b"mesh.faces".startswith(topic) or topic.startswith(b"mesh.faces"):
                    self._send(b"mesh.faces", Message(kind="faces", arrays={"faces": self.faces}))

    def _stats(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now < self._next_stats:
            return
        self._next_stats = now + self.config.stats_period
        summary = {**self.stats.summary(), **self.extra, "eos": final}
        self._send(b"stats", Message(kind="stats", meta=summary))
        if self.report is not None:
            self.report(summary)

    def process(self, msg: Message) -> list[Message]:
        self._subscriptions()
        if msg.kind == "faces":
            self.faces = np.asarray(msg.arrays["faces"], np.int32)
            self._send(b"mesh.faces", Message(kind="faces", arrays={"faces": self.faces}))
            return []
        self.extra["dropped"] = max(self.extra["dropped"], int(msg.meta.get("dropped", 0)))
        for worker, n in (msg.meta.get("rejected") or {}).items():
            self.extra["rejected"][worker] = max(self.extra["rejected"].get(worker, 0), n)
        pose = msg.derive("pose", {k: msg.arrays[k] for k in POSE_KEYS if k in msg.arrays},
                          {k: v for k, v in msg.meta.items() if k != "rejected"})
        now = time.monotonic_ns()
        pose.stamps["publish"] = now
        self._send(b"pose", pose)
        self._send(b"mesh", msg.derive("mesh", {"vertices": msg.arrays["vertices"]}))
        self.stats.add(msg.t_capture_ns, msg.stamps, now)
        self._stats()
        return []

    def finish(self) -> list[Message]:
        self._subscriptions()
        self._stats(final=True)
        return []

    def close(self) -> None:
        self.sock.close()
        if self.auth is not None:
            self.auth.stop()
