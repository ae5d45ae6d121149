"""One graph process: receive, run its stages in order, send on; report to the supervisor.

A worker's first stage may be the source loop. Messages that fail to decode, that do not fit the
schema of the stage that consumes them (:mod:`stmocap.realtime.schema`), or that claim to end the
stream without the run's token (only the upstream process has it) are counted (``rejected``, with
a reason) and dropped. Outputs with NaN/Inf are counted and dropped (:mod:`stmocap.realtime.guard`).
Any exception ends the worker after telling the supervisor which stage failed and why. A heartbeat
thread reports progress to the supervisor (:mod:`stmocap.realtime.supervision`). Workers ignore
Ctrl-C (the supervisor stops the source, and the end of stream drains every process) and die with
their parent.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import signal
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Any

import zmq
from stmocap.realtime.guard import FiniteGuard
from stmocap.realtime.messages import MAX_ARRAY_BYTES, Message, MessageError, decode, encode
from stmocap.realtime.pipeline import PipelineConfig, build_stage
from stmocap.realtime.schema import validate
from stmocap.realtime.stages.base import EOS, Stage, StageError, run_chain
from stmocap.realtime.supervision import Heartbeat, die_with_parent

POLL_MS = 100
LIVE_QUEUE = 1000  # messages; the receiver after a live source drains and keeps the newest


@dataclass(frozen=True)
class WorkerSpec:
    """Which stages a process runs and where it talks (endpoints are ``None`` at the ends)."""

    index: int
    stages: tuple[str, ...]
    inbound: str | None
    outbound: str | None
    control: str
    keep_records: bool = False
    threads: int = 0  # torch CPU threads in this process (make_specs sets it; 0: torch's default)
    token: str = ""  # per-run secret: ends of stream and control events carry it
    preview: str | None = None  # --preview side channel (source: connects; publish: binds)

    @property
    def label(self) -> str:
        return f"worker {self.index} ({','.join(self.stages)})"


class _Worker:
    def __init__(self, spec: WorkerSpec, cfg: PipelineConfig, stop: Any, go: Any,
                 finished: Any, demand: Any = None) -> None:
        self.spec = spec
        self.demand = demand
        self.cfg = cfg
        self.stop = stop
        self.go = go
        self.finished = finished
        self.parent = os.getppid()
        self.ctx = zmq.Context()
        self.ctl = self.ctx.socket(zmq.PUSH)
        self.ctl.setsockopt(zmq.LINGER, 2000)
        self.ctl.connect(spec.control)
        self.rejected = 0
        self.reasons: Counter[str] = Counter()  # why messages were rejected
        self.received = 0  # multipart messages taken from the inbound socket
        self.sent = 0  # messages sent downstream
        self.at: str | None = None  # the stage running now ("send": waiting to send)
        self.guard = FiniteGuard(cfg.graph.nonfinite_limit)
        self.skipped = 0  # live frames dropped here because newer ones had arrived
        src = cfg.source
        self.live = src.realtime or src.source.strip().isdigit() or src.source.startswith("/dev/")
        self.inp = self.out = None
        self.stages: list[Stage] = []

    def event(self, kind: str, **data: Any) -> None:
        self.ctl.send_json({"event": kind, "worker": self.spec.index, "token": self.spec.token,
                            **data})

    def counters(self) -> dict[str, Any]:
        """What the heartbeat reports (read from another thread: plain ints and a string)."""
        return {"token": self.spec.token, "received": self.received, "sent": self.sent,
                "at": self.at, "rejected": self.rejected,
                "nonfinite": dict(self.guard.dropped)}

    def entering(self, stage: str) -> None:
        self.at = stage

    def chain(self, msg: Message) -> list[Message]:
        out = run_chain(self.stages, msg, entering=self.entering, guard=self.guard)
        self.at = None
        return out

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.reasons[reason[:120]] += 1

    def setup(self) -> None:
        if self.spec.threads:
            import torch

            torch.set_num_threads(self.spec.threads)
        names = [n for n in self.spec.stages if n != "source"]
        link = None
        if self.spec.preview and self.demand is not None:
            from stmocap.realtime.preview import PreviewLink

            link = PreviewLink(self.spec.preview, self.demand, self.spec.index)
        for name in names:
            try:
                self.stages.append(build_stage(
                    name, self.cfg, report=lambda s: self.event("stats", stats=s),
                    keep_records=self.spec.keep_records,
                    preview=link if name == "publish" else None))
            except Exception as exc:
                raise StageError(name, exc) from exc
        # After a live source the receiver keeps only the newest message (see _receive), so the
        # queue there must be deep enough to drain whatever accumulated, never the place where a
        # frame waits. Elsewhere small queues give backpressure.
        hwm = self.cfg.graph.hwm
        if self.spec.inbound:
            self.inp = self.ctx.socket(zmq.PULL)
            self.inp.setsockopt(zmq.RCVHWM, LIVE_QUEUE if self.live_input else hwm)
            self.inp.setsockopt(zmq.MAXMSGSIZE, MAX_ARRAY_BYTES)  # larger frames never arrive
            self.inp.bind(self.spec.inbound)
        if self.spec.outbound:
            self.out = self.ctx.socket(zmq.PUSH)
            self.out.setsockopt(zmq.SNDHWM, LIVE_QUEUE if self.live and self.spec.index == 0 else hwm)
            self.out.connect(self.spec.outbound)

    @property
    def live_input(self) -> bool:
        """This process reads directly from a live source's process."""
        return self.live and self.spec.index == 1

    def send(self, msgs: list[Message], block: bool = True) -> bool:
        """Send downstream; a non-blocking send that would wait returns False (frame dropped)."""
        if self.out is None:
            return True
        for m in msgs:
            if m.kind == EOS:
                m.meta["token"] = self.spec.token
            frames = encode(m)
            self.at = "send"
            if block:
                self.out.send_multipart(frames, copy=False)
            else:
                try:
                    self.out.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    self.at = None
                    return False
            self.sent += 1
        self.at = None
        return True

    def orphaned(self) -> bool:
        return os.getppid() != self.parent

    def run_source(self) -> None:
        # Frames flow only once every process is set up, so none waits in a queue meanwhile.
        while not self.go.wait(0.1):
            if self.stop.is_set() or self.orphaned():
                return
        preview = None
        if self.spec.preview and self.demand is not None:
            from stmocap.realtime.preview import PreviewSender

            preview = PreviewSender(self.ctx, self.spec.preview, self.cfg.preview, self.demand)
        try:
            self._source_loop(preview)
        finally:
            if preview is not None:
                preview.close()

    def _source_loop(self, preview: Any) -> None:
        """Read the source, send every frame down the line (and, with ``--preview``, offer the
        frames that went on to the preview thread), then the end of stream."""
        from stmocap.realtime.sources import frame_message, open_source

        limit = self.cfg.graph.frames
        dropped_here = 0
        last = None
        with open_source(self.cfg.source) as src:
            self.event("source", description=src.description, live=src.live, fps=src.fps)
            for frame in src:
                if self.stop.is_set() or self.orphaned():
                    break
                msg = frame_message(frame, src.fps, src.dropped + dropped_here, src.media_clock,
                                    src.unreadable)
                last = msg
                if not self.send(self.chain(msg), block=not src.live):
                    dropped_here += 1  # live source and the pipeline is busy: newest frame wins
                elif preview is not None:
                    preview.offer(frame.index, frame.t_capture_ns, msg.stamps["source"],
                                  frame.image, msg.stream)
                if limit and frame.index + 1 >= limit:
                    break
        eos = Message(kind=EOS, seq=last.seq + 1 if last else 0,
                      meta={"dropped": (src.dropped + dropped_here), "unreadable": src.unreadable})
        self.send(self.chain(eos))

    def _receive(self) -> list[Message]:
        """Decode what arrived. From a live source, only the newest data message is kept (the
        rest queued while this process was busy and are dropped, as a camera would); the end of
        stream is never dropped."""
        assert self.inp is not None
        batches = [self.inp.recv_multipart(copy=False)]
        while self.live_input and self.inp.poll(0):
            batches.append(self.inp.recv_multipart(copy=False))
        self.received += len(batches)
        msgs = []
        for frames in batches:
            try:
                msg = decode(frames)
                validate(msg, self.stages)
                if msg.kind == EOS:
                    token = msg.meta.pop("token", None)
                    if not (isinstance(token, str) and hmac.compare_digest(token, self.spec.token)):
                        raise MessageError("end of stream not from the upstream process "
                                           "(missing or wrong run token)")
                msgs.append(msg)
            except MessageError as exc:
                self.reject(str(exc))
        data = [m for m in msgs if m.kind != EOS]
        if len(data) > 1:
            self.skipped += len(data) - 1
            data = data[-1:]
        return data + [m for m in msgs if m.kind == EOS]

    def run_stream(self) -> None:
        assert self.inp is not None
        while True:
            if not self.inp.poll(POLL_MS):
                if self.orphaned():
                    return
                continue
            for msg in self._receive():
                # Every message carries each worker's count of rejected input, for the stats,
                # and the frames dropped so far (upstream's plus those skipped here).
                rejected = dict(msg.meta.get("rejected") or {})
                rejected[str(self.spec.index)] = self.rejected
                msg.meta["rejected"] = rejected
                msg.meta["dropped"] = int(msg.meta.get("dropped", 0)) + self.skipped
                self.send(self.chain(msg))
                if msg.kind == EOS:
                    return

    def main(self) -> int:
        beat = Heartbeat(self.ctx, self.spec.control, self.spec.index, self.counters, self.parent)
        beat.start()
        try:
            self.setup()
            self.event("started", pid=os.getpid())
            if "source" in self.spec.stages:
                self.run_source()
            else:
                self.run_stream()
            records = next((s.stats.records for s in self.stages if s.name == "publish"), None)
            self.event("done", rejected=self.rejected, records=records, reasons=dict(self.reasons),
                       nonfinite=dict(self.guard.dropped))
            # Keep the outbound socket open until the last process has the end of stream: closing
            # earlier can discard messages still queued for it.
            while self.out is not None and not self.finished.wait(0.1):
                if self.stop.is_set() or self.orphaned():
                    break
            return 0
        except StageError as exc:
            self.event("error", stage=exc.stage, error=str(exc), trace=traceback.format_exc())
            return 1
        except Exception as exc:  # source errors and anything unexpected
            stage = "source" if "source" in self.spec.stages else self.spec.stages[0]
            self.event("error", stage=stage, error=f"{stage}: {type(exc).__name__}: {exc}",
                       trace=traceback.format_exc())
            return 1
        finally:
            beat.stop()
            for s in self.stages:
                with contextlib.suppress(Exception):  # closing must not hide the original error
                    s.close()
            for sock in (self.inp, self.out):
                if sock is not None:
                    sock.close(linger=0)
            time.sleep(0.05)  # let the last control message leave
            self.ctl.close()
            self.ctx.term()


def worker_entry(spec: WorkerSpec, cfg: PipelineConfig, stop: Any, go: Any, finished: Any,
                 demand: Any = None) -> None:
    """Process entry point (spawned by the supervisor). ``go`` is set once every worker started,
    ``finished`` once the last one has processed the end of stream, ``demand`` while a client
    subscribes to the preview topic (flags: :class:`~stmocap.realtime.supervision.Flag`)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(_Worker(spec, cfg, stop, go, finished, demand).main())
