"""The supervisor: wires worker processes per the placement, watches them, stops them cleanly.

Processes are connected in a line by PUSH/PULL sockets with small queues (backpressure); the last
one publishes. The supervisor owns a control socket every worker reports to (started, stats,
done, error). Ctrl-C or SIGTERM stops the source; the end-of-stream message then drains every
process. A worker that fails or dies ends the run: the others are stopped and
:class:`GraphError` names the stage and the cause.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq
from stmocap.realtime.pipeline import PipelineConfig, parse_placement, resolve_placement
from stmocap.realtime.worker import WorkerSpec, worker_entry

GRACE_S = 5.0


class GraphError(RuntimeError):
    """The run ended because a stage failed or a worker died; one line for the user."""


@dataclass
class GraphResult:
    """What a finished run reports."""

    stats: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    rejected: dict[int, int] = field(default_factory=dict)
    interrupted: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


@dataclass
class RunningGraph:
    """Handed to ``on_started``: the worker processes and their inbound endpoints."""

    specs: list[WorkerSpec]
    processes: list[Any]


def _free_tcp_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def make_specs(cfg: PipelineConfig, control: str, workdir: str,
               keep_records: bool = False) -> list[WorkerSpec]:
    groups = parse_placement(resolve_placement(cfg))
    inbound: list[str | None] = [None]
    for i in range(1, len(groups)):
        inbound.append(f"ipc://{workdir}/w{i}" if cfg.graph.transport == "ipc"
                       else _free_tcp_endpoint())
    if cfg.graph.process_threads < 0:
        raise ValueError(f"--process-threads must be >= 0, got {cfg.graph.process_threads}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = cfg.graph.process_threads or max(1, cores // len(groups))
    return [WorkerSpec(i, tuple(g), inbound[i], inbound[i + 1] if i + 1 < len(groups) else None,
                       control, keep_records, threads) for i, g in enumerate(groups)]


def run_graph(cfg: PipelineConfig, on_stats: Callable[[dict[str, Any]], None] | None = None,
              on_started: Callable[[RunningGraph], None] | None = None,
              keep_records: bool = False, stop: Any = None) -> GraphResult:
    """Run the graph to the end of the source (or until stopped); raises :class:`GraphError`."""
    from stmocap.realtime.sources import prepare_source

    prepare_source(cfg.source)  # e.g. render the demo clip here, not inside a stage process
    mpctx = mp.get_context("spawn")
    stop = stop or mpctx.Event()
    go = mpctx.Event()
    finished = mpctx.Event()
    workdir = tempfile.mkdtemp(prefix="stmocap-")
    control = f"ipc://{workdir}/control"
    ctx = zmq.Context()
    ctl = ctx.socket(zmq.PULL)
    ctl.bind(control)
    specs = make_specs(cfg, control, workdir, keep_records)
    result = GraphResult()
    procs = [mpctx.Process(target=worker_entry, args=(s, cfg, stop, go, finished), name=f"stmocap-{s.index}",
                           daemon=True) for s in specs]
    interrupted = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def handler(signum: int, frame: Any) -> None:
            if interrupted.is_set():  # second Ctrl-C: stop now
                for p in procs:
                    if p.is_alive():
                        p.terminate()
            interrupted.set()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    t0 = time.monotonic()
    failure: str | None = None
    done: set[int] = set()
    started: set[int] = set()
    try:
        for p in procs:
            p.start()
        while len(done) < len(procs) and failure is None:
            if ctl.poll(100):
                ev = ctl.recv_json()
                w = ev["worker"]
                kind = ev["event"]
                if kind == "started":
                    started.add(w)
                    if len(started) == len(procs):
                        if on_started is not None:
                            on_started(RunningGraph(specs, procs))
                        go.set()
                elif kind == "source":
                    result.source = ev
                elif kind == "stats":
                    result.stats = ev["stats"]
                    if on_stats is not None:
                        on_stats(ev["stats"])
                elif kind == "done":
                    done.add(w)
                    if w == len(procs) - 1:
                        finished.set()
                    result.rejected[w] = ev["rejected"]
                    if ev.get("records") is not None:
                        result.records = ev["records"]
                elif kind == "error":
                    failure = ev["error"]
                continue
            for spec, p in zip(specs, procs, strict=True):
                if spec.index not in done and not p.is_alive():
                    code = p.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    failure = f"{spec.label} died ({how}) before finishing"
                    break
    finally:
        if failure is not None:
            stop.set()
            deadline = time.monotonic() + 1.0
            for p in procs:
                p.join(max(0.0, deadline - time.monotonic()))
            for p in procs:
                if p.is_alive():
                    p.terminate()
        deadline = time.monotonic() + GRACE_S
        for p in procs:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)
        for sig, old in previous.items():
            signal.signal(sig, old)
        ctl.close(0)
        ctx.term()
        shutil.rmtree(workdir, ignore_errors=True)
    result.wall_s = time.monotonic() - t0
    result.interrupted = interrupted.is_set()
    if failure is not None:
        raise GraphError(f"run stopped: {failure}")
    return result


def children_alive(graph: RunningGraph) -> list[int]:
    """PIDs of the graph's worker processes that still exist (for tests and diagnostics)."""
    alive = []
    for p in graph.processes:
        try:
            if p.pid is not None:
                os.kill(p.pid, 0)
                alive.append(p.pid)
        except ProcessLookupError:
            continue
    return alive
