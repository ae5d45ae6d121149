"""The public XPUB socket, driven by one thread of its own (the publish stage feeds it).

The thread owns the socket: it numbers each topic's messages (``seq``), sends the ``stats``
heartbeat on a timer (whether or not frames arrive), answers new ``mesh.faces`` subscriptions with
the faces, counts the clients that announced themselves on ``hello.<id>``, forwards the newest
frame of the opt-in ``preview`` side channel (:mod:`stmocap.realtime.preview`; it tells the source
process whether any client subscribes to that topic) and, at the end, sends an ``eos`` marker on
every topic. ``docs/protocol.md`` is the contract; the field tables are in
:mod:`stmocap.realtime.protocol_schema`.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zmq
from stmocap.realtime.messages import Message, encode
from stmocap.realtime.preview import PreviewInbox, PreviewLink
from stmocap.realtime.protocol_schema import HELLO_PREFIX, POSE_ARRAYS, POSE_META, TOPICS
from stmocap.realtime.schema import COUNTERS
from stmocap.realtime.stats import StreamStats

# Pose messages carry the running totals of the gap rule (docs/protocol.md, "Gaps"); the stats
# carry all of COUNTERS.
POSE_COUNTERS = ("dropped", "unreadable", "no_person")

_END = "end"
_STOP = "stop"
_ids = itertools.count()


class Publisher:
    """Owns the XPUB socket in a thread; :meth:`put` hands it graph messages (``faces``, ``body``,
    ``progress``), :meth:`end` finishes the stream, :meth:`close` releases everything."""

    def __init__(self, endpoint: str, ctx: zmq.Context, *, queue_size: int, stats_period: float,
                 keys: Path | None = None, keep_records: bool = False,
                 preview: PreviewLink | None = None) -> None:
        from stmocap.realtime.security import secure_server, warn_if_open

        if stats_period <= 0:
            raise ValueError(f"--stats-period must be > 0 seconds, got {stats_period:g}")
        self.endpoint = endpoint
        self.period = stats_period
        self.ctx = ctx
        self.sock = ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscription, also repeated topics
        self.sock.setsockopt(zmq.SNDHWM, queue_size)
        self.sock.setsockopt(zmq.LINGER, 500)
        self.auth = secure_server(self.sock, ctx, keys) if keys else None
        warn_if_open(endpoint, keys)
        try:
            self.sock.bind(endpoint)
        except zmq.ZMQError:
            self.sock.close(0)
            if self.auth is not None:
                self.auth.stop()
            raise
        self.preview = preview
        self.inbox: PreviewInbox | None = None
        if preview is not None:
            try:
                self.inbox = PreviewInbox(ctx, preview.endpoint)
            except zmq.ZMQError:
                self.sock.close(0)
                if self.auth is not None:
                    self.auth.stop()
                raise
            preview.demand.clear()
        self.prefixes: set[bytes] = set()  # topics subscribed to now (for the preview's demand)
        self.stats = StreamStats(keep_all=keep_records)
        self.faces: np.ndarray | None = None
        self.seq = dict.fromkeys(TOPICS, 0)
        self.frame_index = -1
        self.stream = "main"
        self.counters: dict[str, Any] = {**dict.fromkeys(COUNTERS, 0), "rejected": {}}
        self.clients: set[bytes] = set()
        self._clients_changed = threading.Condition()
        self.summaries: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.final: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self._inbox: queue.SimpleQueue[Message | str] = queue.SimpleQueue()
        address = f"inproc://stmocap-publisher-{next(_ids)}"
        self._wake_in = ctx.socket(zmq.PAIR)
        self._wake_in.bind(address)
        self._wake_out = ctx.socket(zmq.PAIR)
        self._wake_out.connect(address)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._thread.start()

    # --- called from the stage's thread -------------------------------------------------------

    def put(self, msg: Message | str) -> None:
        self._check()
        self._inbox.put(msg)
        self._wake()

    def _wake(self) -> None:
        # Queue full: wake-ups are already pending, and the thread drains the whole inbox on each.
        with contextlib.suppress(zmq.Again):
            self._wake_out.send(b"", zmq.NOBLOCK)

    def wait_for_clients(self, count: int, timeout: float) -> None:
        """Block until ``count`` distinct clients said hello (see docs/protocol.md)."""
        deadline = time.monotonic() + timeout
        with self._clients_changed:
            while len(self.clients) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"only {len(self.clients)} of {count} clients subscribed to "
                                       f"{self.endpoint} within {timeout:g} s (a client counts "
                                       f"once it subscribes to {HELLO_PREFIX.decode()}<its id>)")
                self._clients_changed.wait(min(left, 0.1))
                self._check()

    def end(self, timeout: float = 30.0) -> dict[str, Any]:
        """Final stats and an ``eos`` marker on every topic; returns the final summary."""
        self.put(_END)
        if not self._done.wait(timeout):
            raise TimeoutError("the publisher thread did not finish the stream")
        self._check()
        assert self.final is not None
        return self.final

    def close(self) -> None:
        if self._thread.is_alive():
            self._inbox.put(_STOP)
            self._wake()
            self._thread.join(5.0)
        for s in (self._wake_out, self._wake_in, self.sock):
            s.close()
        if self.inbox is not None:
            self.inbox.close()
        if self.auth is not None:
            self.auth.stop()

    def _check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"publisher thread failed: {self.error}") from self.error

    # --- the publisher thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported to the stage on its next call
            self.error = exc
        finally:
            self._done.set()
            with self._clients_changed:
                self._clients_changed.notify_all()

    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self._wake_in, zmq.POLLIN)
        poller.register(self.sock, zmq.POLLIN)
        if self.inbox is not None:
            poller.register(self.inbox.sock, zmq.POLLIN)
        next_stats = time.monotonic()  # a first heartbeat at once
        while True:
            now = time.monotonic()
            if now >= next_stats:
                self._send_stats(final=False)
                next_stats = max(next_stats + self.period, now)  # steady period, no bursts
            ready = dict(poller.poll(max(0, int((next_stats - time.monotonic()) * 1000)) + 1))
            if self.sock in ready:
                self._subscriptions()
            if self.inbox is not None and self.inbox.sock in ready:
                self._forward_preview()
            if self._wake_in in ready:
                while self._wake_in.poll(0):
                    self._wake_in.recv()
                while True:
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if item == _STOP:
                        return
                    if item == _END:
                        self._finish()
                        return
                    assert isinstance(item, Message)
                    self._handle(item)

    def _send(self, topic: str, msg: Message) -> None:
        msg.seq = self.seq[topic]
        self.seq[topic] += 1
        self.sock.send_multipart([topic.encode(), *encode(msg)], copy=False)

    def _note(self, msg: Message) -> None:
        """Counters every frame carries (drops, unreadable inputs, frames without a person or with
        more people than followed, rejected messages): running totals, the largest seen wins."""
        self.frame_index = max(self.frame_index, msg.frame_index)
        self.stream = msg.stream
        meta = msg.meta
        for key in COUNTERS:
            self.counters[key] = max(self.counters[key], int(meta.get(key, 0)))
        for worker, n in (meta.get("rejected") or {}).items():
            self.counters["rejected"][str(worker)] = max(
                self.counters["rejected"].get(str(worker), 0), int(n))

    def _bare(self, kind: str, meta: dict[str, Any] | None = None,
              arrays: dict[str, np.ndarray] | None = None) -> Message:
        """A message that describes no single frame: the fill-in header values of the contract."""
        return Message(kind=kind, stream=self.stream, frame_index=self.frame_index, track=-1,
                       t_capture_ns=0, stamps={"publish": time.monotonic_ns()},
                       arrays=arrays or {}, meta=meta or {})

    def _handle(self, msg: Message) -> None:
        if msg.kind == "faces":
            self.faces = np.asarray(msg.arrays["faces"], np.int32)
            self._note(msg)
            self._send("mesh.faces", self._bare("faces", arrays={"faces": self.faces}))
            return
        self._note(msg)
        if msg.kind != "body":
            return  # progress: a frame reached the end of the graph (maybe without a person)
        now = time.monotonic_ns()
        stamps = {**msg.stamps, "publish": now}
        meta = {k: v for k, v in msg.meta.items() if k in POSE_META}
        meta.update({k: int(msg.meta.get(k, 0)) for k in POSE_COUNTERS})
        pose = msg.derive("pose", {k: msg.arrays[k] for k in POSE_ARRAYS}, meta, stamps=stamps)
        self._send("pose", pose)
        self._send("mesh", msg.derive("mesh", {"vertices": msg.arrays["vertices"]}, {},
                                      stamps=dict(stamps)))
        self.stats.add(msg.t_capture_ns, msg.stamps, now)

    def _forward_preview(self) -> None:
        """The newest preview frame on the ``preview`` topic (latest-only: older ones waiting are
        dropped). It does not move the stream's ``frame_index``: previews run ahead of poses."""
        assert self.inbox is not None
        msg = self.inbox.take()
        if msg is None:
            return
        meta = {k: msg.meta[k] for k in ("image_size", "size", "scale", "quality")}
        self._send("preview", Message(
            kind="preview", stream=msg.stream, frame_index=msg.frame_index, track=-1,
            t_capture_ns=msg.t_capture_ns, stamps={**msg.stamps, "publish": time.monotonic_ns()},
            arrays={"jpeg": msg.arrays["jpeg"]}, meta=meta))

    def summary(self, final: bool) -> dict[str, Any]:
        s = self.stats.summary()
        out: dict[str, Any] = {"frames": s["frames"], "fps": float(s["fps"]),
                               "period": float(self.period)}
        if "latency_ms" in s:
            out["latency_ms"] = {k: float(v) for k, v in s["latency_ms"].items()}
            out["stage_ms"] = [[k, float(v)] for k, v in s["stage_ms"].items()]
        out.update({k: self.counters[k] for k in COUNTERS})
        rejected = dict(self.counters["rejected"])
        if self.inbox is not None and self.inbox.rejected and self.preview is not None:
            key = str(self.preview.index)  # this process's own count, its malformed previews too
            rejected[key] = rejected.get(key, 0) + self.inbox.rejected
        out.update(rejected=rejected, eos=final)
        return out

    def _send_stats(self, final: bool) -> dict[str, Any]:
        summary = self.summary(final)
        self._send("stats", self._bare("stats", summary))
        self.summaries.put(summary)
        return summary

    def _finish(self) -> None:
        self._subscriptions()
        self.final = self._send_stats(final=True)
        for topic in TOPICS:
            self._send(topic, self._bare("eos", dict(self.final)))

    def _subscriptions(self) -> None:
        while True:
            try:
                event = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            subscribe, topic = event[:1] == b"\x01", event[1:]
            is_hello = topic.startswith(HELLO_PREFIX) and len(topic) > len(HELLO_PREFIX)
            if not is_hello:
                # XPUB_VERBOSE passes every subscription but an unsubscription only once the last
                # subscriber of that topic is gone: the set holds the topics someone reads now.
                (self.prefixes.add if subscribe else self.prefixes.discard)(topic)
                if self.preview is not None:
                    wanted = any(b"preview".startswith(t) for t in self.prefixes)
                    (self.preview.demand.set if wanted else self.preview.demand.clear)()
            if is_hello:
                with self._clients_changed:
                    (self.clients.add if subscribe else self.clients.discard)(topic)
                    self._clients_changed.notify_all()
            elif subscribe and self.faces is not None and (
                    b"mesh.faces".startswith(topic) or topic.startswith(b"mesh.faces")):
                self._send("mesh.faces", self._bare("faces", arrays={"faces": self.faces}))


def drain(summaries: queue.SimpleQueue[dict[str, Any]],
          report: Callable[[dict[str, Any]], None] | None) -> None:
    """Hand the newest heartbeat summary (if any came since the last call) to ``report``."""
    latest = None
    while True:
        try:
            latest = summaries.get_nowait()
        except queue.Empty:
            break
    if latest is not None and report is not None:
        report(latest)
