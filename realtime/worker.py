"""One graph process: receive, run its stages in order, send on; report to the supervisor.

A worker's first stage may be the source loop. Messages that fail to decode are counted
(``rejected``) and dropped. Any exception ends the worker after telling the supervisor which
stage failed and why. Workers ignore Ctrl-C (the supervisor stops the source, and the end of
stream drains every process) and exit if their parent disappears.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any

import zmq
from stmocap.realtime.messages import Message, MessageError, decode, encode
from stmocap.realtime.pipeline import PipelineConfig, build_stage
from stmocap.realtime.stages.base import EOS, Stage, StageError, run_chain

POLL_MS = 100
LIVE_SOCKET_BUFFER = 64 * 1024  # bytes; less than one frame


@dataclass(frozen=True)
class WorkerSpec:
    """Which stages a process runs and where it talks (endpoints are ``None`` at the ends)."""

    index: int
    stages: tuple[str, ...]
    inbound: str | None
    outbound: str | None
    control: str
    keep_records: bool = False

    @property
    def label(self) -> str:
        return f"worker {self.index} ({','.join(self.stages)})"


class _Worker:
    def __init__(self, spec: WorkerSpec, cfg: PipelineConfig, stop: Any, go: Any,
                 finished: Any) -> None:
        self.spec = spec
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
        self.inp = self.out = None
        self.stages: list[Stage] = []

    def event(self, kind: str, **data: Any) -> None:
        self.ctl.send_json({"event": kind, "worker": self.spec.index, **data})

    def setup(self) -> None:
        names = [n for n in self.spec.stages if n != "source"]
        for name in names:
            try:
                self.stages.append(build_stage(
                    name, self.cfg, report=lambda s: self.event("stats", stats=s),
                    keep_records=self.spec.keep_records))
            except Exception as exc:
                raise StageError(name, exc) from exc
        hwm = self.cfg.graph.hwm
        # A live source must not build a queue: besides ZeroMQ's high-water marks, the kernel's
        # socket buffers would hold several 1 MB frames, each adding a frame period of latency.
        # With small buffers the source's non-blocking send fails instead and the frame is dropped.
        live = self.cfg.source.realtime or self.cfg.source.source.strip().isdigit() or \
            self.cfg.source.source.startswith("/dev/")
        if self.spec.inbound:
            self.inp = self.ctx.socket(zmq.PULL)
            self.inp.setsockopt(zmq.RCVHWM, 1 if live and self.spec.index == 1 else hwm)
            if live and self.spec.index == 1:
                self.inp.setsockopt(zmq.RCVBUF, LIVE_SOCKET_BUFFER)
            self.inp.bind(self.spec.inbound)
        if self.spec.outbound:
            self.out = self.ctx.socket(zmq.PUSH)
            self.out.setsockopt(zmq.SNDHWM, 1 if live and self.spec.index == 0 else hwm)
            if live and self.spec.index == 0:
                self.out.setsockopt(zmq.SNDBUF, LIVE_SOCKET_BUFFER)
            self.out.connect(self.spec.outbound)

    def send(self, msgs: list[Message], block: bool = True) -> bool:
        """Send downstream; a non-blocking send that would wait returns False (frame dropped)."""
        if self.out is None:
            return True
        for m in msgs:
            frames = encode(m)
            if block:
                self.out.send_multipart(frames, copy=False)
            else:
                try:
                    self.out.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    return False
        return True

    def orphaned(self) -> bool:
        return os.getppid() != self.parent

    def run_source(self) -> None:
        from stmocap.realtime.sources import open_source

        # Frames flow only once every process is set up, so none waits in a queue meanwhile.
        while not self.go.wait(0.1):
            if self.stop.is_set() or self.orphaned():
                return
        limit = self.cfg.graph.frames
        dropped_here = 0
        last = None
        with open_source(self.cfg.source) as src:
            self.event("source", description=src.description, live=src.live, fps=src.fps)
            for frame in src:
                if self.stop.is_set() or self.orphaned():
                    break
                msg = Message(kind="frame", seq=frame.index, stream="main",
                              t_capture_ns=frame.t_capture_ns, arrays={"image": frame.image},
                              meta={"fps": src.fps, "dropped": src.dropped + dropped_here})
                msg.stamp("source")
                last = msg
                if not self.send(run_chain(self.stages, msg), block=not src.live):
                    dropped_here += 1  # live source and the pipeline is busy: newest frame wins
                if limit and frame.index + 1 >= limit:
                    break
        eos = Message(kind=EOS, seq=last.seq + 1 if last else 0,
                      meta={"dropped": (src.dropped + dropped_here)})
        self.send(run_chain(self.stages, eos))

    def run_stream(self) -> None:
        assert self.inp is not None
        while True:
            if not self.inp.poll(POLL_MS):
                if self.orphaned():
                    return
                continue
            frames = self.inp.recv_multipart(copy=False)
            try:
                msg = decode(frames)
            except MessageError:
                self.rejected += 1
                continue
            # Every message carries each worker's count of rejected input, for the stats.
            rejected = dict(msg.meta.get("rejected") or {})
            rejected[str(self.spec.index)] = self.rejected
            msg.meta["rejected"] = rejected
            outs = run_chain(self.stages, msg)
            self.send(outs)
            if msg.kind == EOS:
                return

    def main(self) -> int:
        try:
            self.setup()
            self.event("started", pid=os.getpid())
            if "source" in self.spec.stages:
                self.run_source()
            else:
                self.run_stream()
            records = next((s.stats.records for s in self.stages if s.name == "publish"), None)
            self.event("done", rejected=self.rejected, records=records)
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
            for s in self.stages:
                with contextlib.suppress(Exception):  # closing must not hide the original error
                    s.close()
            for sock in (self.inp, self.out):
                if sock is not None:
                    sock.close(linger=0)
            time.sleep(0.05)  # let the last control message leave
            self.ctl.close()
            self.ctx.term()


def worker_entry(spec: WorkerSpec, cfg: PipelineConfig, stop: Any, go: Any, finished: Any) -> None:
    """Process entry point (spawned by the supervisor). ``go`` is set once every worker started,
    ``finished`` once the last one has processed the end of stream."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(_Worker(spec, cfg, stop, go, finished).main())
