"""The supervisor: wires worker processes per the placement, watches them, stops them cleanly.

Processes are connected in a line by PUSH/PULL sockets with small queues (backpressure); the last
one publishes. The supervisor owns a control socket every worker reports to (started, stats,
done, error, and heartbeats with progress counters); events that are not valid, or lack the run's
token, are counted and dropped. Ctrl-C or SIGTERM stops the source; the end-of-stream message then
drains every process, for at most 0.8 s before they are ended. A worker that fails, dies or
stalls ends the run: the others are stopped and :class:`GraphError` names the stage and the
cause.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import secrets
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
from stmocap.realtime.supervision import Flag, StallWatch, parse_event
from stmocap.realtime.worker import WorkerSpec, worker_entry

GRACE_S = 5.0  # after a finished run, for the processes to exit
DRAIN_S = 0.8  # after Ctrl-C, for the end of stream to drain before processes are ended
MAX_CONTROL_BYTES = 16 << 20


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
    reasons: dict[int, dict[str, int]] = field(default_factory=dict)  # worker → reason → count
    nonfinite: dict[str, int] = field(default_factory=dict)  # stage → outputs dropped
    control_rejected: dict[str, int] = field(default_factory=dict)  # reason → control messages


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
               keep_records: bool = False, token: str = "") -> list[WorkerSpec]:
    groups = parse_placement(resolve_placement(cfg))
    inbound: list[str | None] = [None]
    for i in range(1, len(groups)):
        inbound.append(f"ipc://{workdir}/w{i}" if cfg.graph.transport == "ipc"
                       else _free_tcp_endpoint())
    if cfg.graph.process_threads < 0:
        raise ValueError(f"--process-threads must be >= 0, got {cfg.graph.process_threads}")
    if not cfg.graph.stall_timeout >= 0:  # also refuses NaN
        raise ValueError(f"--stall-timeout must be >= 0 seconds (0: never), got "
                         f"{cfg.graph.stall_timeout}")
    if cfg.graph.nonfinite_limit < 0:
        raise ValueError(f"--nonfinite-limit must be >= 0 (0: only drop), got "
                         f"{cfg.graph.nonfinite_limit}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = cfg.graph.process_threads or max(1, cores // len(groups))
    # --preview: a side channel from the source's process to the publisher's, beside the line.
    preview = None
    if cfg.preview.preview:
        preview = f"ipc://{workdir}/preview" if cfg.graph.transport == "ipc" else _free_tcp_endpoint()
    return [WorkerSpec(i, tuple(g), inbound[i], inbound[i + 1] if i + 1 < len(groups) else None,
                       control, keep_records, threads, token,
                       preview if preview and {"source", "publish"} & set(g) else None)
            for i, g in enumerate(groups)]


def _kill(procs: list[Any]) -> None:
    """SIGKILL every live process (works on suspended ones too); SIGCONT lets the kernel reap."""
    for p in procs:
        if p.is_alive() and p.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
                os.kill(p.pid, signal.SIGCONT)


def _stop(procs: list[Any], grace: float) -> None:
    """Wait up to ``grace`` s for the processes to exit, then SIGTERM (+SIGCONT, so a suspended
    one gets it), then SIGKILL what is left; returns within about ``grace + 0.6`` s."""
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGTERM)
            os.kill(p.pid, signal.SIGCONT)
    deadline = time.monotonic() + 0.3
    for p in alive:
        p.join(max(0.0, deadline - time.monotonic()))
    _kill(alive)
    for p in alive:
        p.join(0.3)


def run_graph(cfg: PipelineConfig, on_stats: Callable[[dict[str, Any]], None] | None = None,
              on_started: Callable[[RunningGraph], None] | None = None,
              keep_records: bool = False, stop: Any = None) -> GraphResult:
    """Run the graph to the end of the source (or until stopped); raises :class:`GraphError`.

    Ctrl-C (or SIGTERM) stops the source and lets the end of stream drain for up to
    :data:`DRAIN_S`, then ends every process: the call returns within 2 s. A second Ctrl-C kills
    every process at once. A stage that stalls (see :mod:`stmocap.realtime.supervision`) ends
    the run with :class:`GraphError` naming it.
    """
    from stmocap.realtime.sources import prepare_source

    prepare_source(cfg.source)  # e.g. render the demo clip here, not inside a stage process
    mpctx = mp.get_context("spawn")
    stop = stop or Flag(mpctx)
    go = Flag(mpctx)
    finished = Flag(mpctx)
    demand = Flag(mpctx)  # a client subscribes to the preview topic (set by the publisher)
    token = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="stmocap-")
    control = f"ipc://{workdir}/control"
    try:
        specs = make_specs(cfg, control, workdir, keep_records, token)
    except ValueError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    ctx = zmq.Context()
    ctl = ctx.socket(zmq.PULL)
    ctl.setsockopt(zmq.MAXMSGSIZE, MAX_CONTROL_BYTES)
    ctl.bind(control)
    result = GraphResult()
    procs = [mpctx.Process(target=worker_entry, args=(s, cfg, stop, go, finished, demand),
                           name=f"stmocap-{s.index}", daemon=True) for s in specs]
    watch = StallWatch([s.label for s in specs],
                       [next((n for n in s.stages if n != "source"), s.stages[0]) for s in specs],
                       cfg.graph.stall_timeout)
    interrupted = threading.Event()
    killed = threading.Event()
    interrupted_at: list[float] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def handler(signum: int, frame: Any) -> None:
            if interrupted.is_set():  # second Ctrl-C: stop now
                killed.set()
                _kill(procs)
            else:
                interrupted_at.append(time.monotonic())
            interrupted.set()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    t0 = time.monotonic()
    failure: str | None = None
    done: set[int] = set()
    started: set[int] = set()
    drain_timed_out = False
    try:
        for p in procs:
            p.start()
        while len(done) < len(procs) and failure is None and not killed.is_set():
            now = time.monotonic()
            if interrupted_at and now - interrupted_at[0] > DRAIN_S:
                drain_timed_out = True
                break  # the drain did not finish in time: end the processes below
            if ctl.poll(100):
                while failure is None:
                    try:
                        raw = ctl.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    ev, reason = parse_event(raw, len(procs), token)
                    if ev is None:
                        result.control_rejected[reason] = result.control_rejected.get(reason, 0) + 1
                        continue
                    failure = _handle(ev, result, watch, started, done, finished, go,
                                      on_stats, on_started, specs, procs)
            if failure is None:
                failure = watch.check(time.monotonic())
            if failure is None:
                for spec, p in zip(specs, procs, strict=True):
                    if spec.index not in done and not p.is_alive():
                        code = p.exitcode
                        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                        failure = f"{spec.label} died ({how}) before finishing"
                        break
    finally:
        stop.set()
        if killed.is_set():
            _kill(procs)
            _stop(procs, 0.2)
        elif drain_timed_out:  # Ctrl-C: the drain already had its time; the 2 s promise holds
            _stop(procs, 0.1)
        elif failure is not None or interrupted.is_set():
            _stop(procs, 0.5)
        else:
            _stop(procs, GRACE_S)
        for sig, old in previous.items():
            signal.signal(sig, old)
        ctl.close(0)
        ctx.term()
        shutil.rmtree(workdir, ignore_errors=True)
    result.wall_s = time.monotonic() - t0
    result.interrupted = interrupted.is_set()
    if failure is not None and not (result.interrupted and "died (signal" in failure):
        raise GraphError(f"run stopped: {failure}")
    return result


def _handle(ev: dict[str, Any], result: GraphResult, watch: StallWatch, started: set[int],
            done: set[int], finished: Any, go: Any,
            on_stats: Callable[[dict[str, Any]], None] | None,
            on_started: Callable[[RunningGraph], None] | None,
            specs: list[WorkerSpec], procs: list[Any]) -> str | None:
    """Apply one validated control event; returns a failure line, if the event is one."""
    w, kind = ev["worker"], ev["event"]
    if kind == "beat":
        watch.beat(w, ev["received"], ev["sent"], ev["at"], time.monotonic())
        for stage, n in ev["nonfinite"].items():
            result.nonfinite[str(stage)] = int(n) if isinstance(n, int) else 0
    elif kind == "started":
        started.add(w)
        if len(started) == len(procs):
            if on_started is not None:
                on_started(RunningGraph(specs, procs))
            watch.flowing(time.monotonic())
            go.set()
    elif kind == "source":
        result.source = ev
    elif kind == "stats":
        result.stats = ev["stats"]
        if on_stats is not None:
            on_stats(ev["stats"])
    elif kind == "done":
        done.add(w)
        watch.done(w)
        if w == len(procs) - 1:
            finished.set()
        result.rejected[w] = ev["rejected"]
        result.reasons[w] = ev["reasons"]
        for stage, n in ev["nonfinite"].items():
            result.nonfinite[str(stage)] = int(n) if isinstance(n, int) else 0
        if ev.get("records") is not None:
            result.records = ev["records"]
    elif kind == "error":
        return ev["error"]
    return None


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
