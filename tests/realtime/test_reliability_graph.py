"""Reliability of the graph with real processes, sockets and files (issue 10: hangs, forged end of
stream, malformed messages at socket boundaries, non-finite output).

Tests that hang on code without the fix carry a ``timeout`` so they fail instead of blocking.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from stmocap.realtime.filters import FilterConfig
from stmocap.realtime.graph import GraphError, RunningGraph, children_alive, run_graph
from stmocap.realtime.messages import SCHEMA_VERSION, Message, encode
from stmocap.realtime.pipeline import GraphConfig, PerFrameConfig, PipelineConfig, PublishConfig
from stmocap.realtime.sources import SourceConfig

from .conftest import write_video
from .helpers import Subscriber, make_estimates, save_estimates


def _endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _config(video: Path, estimates: Path, endpoint: str, realtime: bool = False,
            **graph: object) -> PipelineConfig:
    return PipelineConfig(source=SourceConfig(source=str(video), realtime=realtime),
                          smoothing=FilterConfig(filter="none"),
                          perframe=PerFrameConfig(profile="replay", estimates=estimates),
                          publish=PublishConfig(endpoint=endpoint),
                          graph=GraphConfig(**graph))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("reliability")
    return {"video": write_video(d / "clip.avi", 45),
            "estimates": save_estimates(d / "est.npz", make_estimates(45)),
            "long": write_video(d / "long.avi", 600, fps=30.0),
            "long_est": save_estimates(d / "long.npz", make_estimates(600))}


def _resume_and_kill(pids: list[int]) -> None:
    """Leave nothing behind, whatever the outcome (a failing test may have suspended a worker)."""
    for pid in pids:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break


# ---------------------------------------------------------------------------------------- hangs


@pytest.mark.timeout(90)
def test_suspended_worker_ends_the_run_naming_its_stage(media: dict[str, Path]) -> None:
    running: list[RunningGraph] = []

    def suspend_later(graph: RunningGraph) -> None:
        running.append(graph)
        threading.Timer(1.0, lambda: os.kill(graph.processes[1].pid, signal.SIGSTOP)).start()

    cfg = _config(media["long"], media["long_est"], _endpoint(), realtime=True, stall_timeout=2.0)
    t0 = time.monotonic()
    try:
        with pytest.raises(GraphError) as err:
            run_graph(cfg, on_started=suspend_later)
        elapsed = time.monotonic() - t0
        line = str(err.value)
        assert "\n" not in line
        assert re.search(r"stage \w+ \(worker 1 \(detect,.*no heartbeat", line), line
        assert elapsed < 30
        assert children_alive(running[0]) == []  # the suspended one too: no orphans
    finally:
        if running:
            _resume_and_kill([p.pid for p in running[0].processes if p.pid])


@pytest.mark.timeout(90)
def test_the_stalled_stage_is_blamed_not_the_ones_waiting_for_it(media: dict[str, Path]) -> None:
    """Three processes; the last one is suspended, so the middle one blocks sending to it with
    its own input waiting: the line names the last one."""
    running: list[RunningGraph] = []

    def suspend_later(graph: RunningGraph) -> None:
        running.append(graph)
        threading.Timer(1.0, lambda: os.kill(graph.processes[2].pid, signal.SIGSTOP)).start()

    cfg = _config(media["long"], media["long_est"], _endpoint(), stall_timeout=3.0,
                  placement="source|detect,perframe,window|temporal,stitch,body,publish")
    try:
        with pytest.raises(GraphError, match=r"stage \w+ \(worker 2 \(temporal,.*no heartbeat"):
            run_graph(cfg, on_started=suspend_later)
        assert children_alive(running[0]) == []
    finally:
        if running:
            _resume_and_kill([p.pid for p in running[0].processes if p.pid])


def _cli_run(media: dict[str, Path], *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stmocap", "run", "--source", str(media["long"]), "--realtime",
         "--profile", "replay", "--estimates", str(media["long_est"]), "--endpoint", _endpoint(),
         *extra], stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_streaming(proc: subprocess.Popen) -> tuple[list[int], str]:
    """Wait for the first status line; return the worker processes' PIDs (in spawn order)."""
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "fps" in line or not line:
            break
    out = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "spawn_main"], capture_output=True,
                         text=True).stdout.split()
    return sorted(int(p) for p in out), "".join(lines)


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" in status.read_text().lower()
    except FileNotFoundError:
        return True


@pytest.mark.timeout(150)
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_ends_within_2_s_even_with_a_suspended_stage(media: dict[str, Path],
                                                            presses: int) -> None:
    proc = _cli_run(media, "--stall-timeout", "0")  # only Ctrl-C may end this run
    workers: list[int] = []
    try:
        workers, lines = _wait_streaming(proc)
        assert len(workers) == 2, lines
        os.kill(workers[1], signal.SIGSTOP)
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        if presses == 2:
            time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=20)[1]
        elapsed = time.monotonic() - t0
        assert proc.returncode == 130, rest
        assert "Traceback" not in rest
        # 2 s is the promise; the interpreter's own exit adds a little on a loaded machine.
        print(f"Ctrl-C ({presses}x) ended the run in {elapsed:.2f} s")
        assert elapsed < 2.5, f"Ctrl-C took {elapsed:.2f} s"
        time.sleep(0.3)
        assert all(_gone(pid) for pid in workers)
    finally:
        _resume_and_kill(workers)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.timeout(150)
def test_cli_names_the_stalled_stage_in_one_line(media: dict[str, Path]) -> None:
    proc = _cli_run(media, "--stall-timeout", "2")
    workers: list[int] = []
    try:
        workers, lines = _wait_streaming(proc)
        assert len(workers) == 2, lines
        os.kill(workers[1], signal.SIGSTOP)
        rest = proc.communicate(timeout=40)[1]
        assert proc.returncode == 2, rest
        errors = [line for line in rest.splitlines() if line.startswith("stmocap: error:")]
        assert len(errors) == 1 and "no heartbeat" in errors[0] and "(worker 1 (" in errors[0]
        assert "Traceback" not in rest
        time.sleep(0.3)
        assert all(_gone(pid) for pid in workers)
    finally:
        _resume_and_kill(workers)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ------------------------------------------------------------------------- forged end of stream

FOREIGN = textwrap.dedent("""
    import sys, zmq
    from stmocap.realtime.messages import Message, encode
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(sys.argv[1])
    push.send_multipart(encode(Message(kind="eos", seq=0, meta={"token": "guessed"})))
    push.send_multipart(encode(Message(kind="eos", seq=0)))
    ctl = ctx.socket(zmq.PUSH)
    ctl.connect(sys.argv[2])
    ctl.send(b"junk")
    ctl.send(b'{"event": "done"}')
    ctl.send(b'{"event": "done", "worker": 1, "rejected": 0, "records": null}')
    ctl.send(b'{"event": "error", "worker": 0, "stage": "x", "error": "forged", "token": "no"}')
    ctl.send(b'[1, 2]')
    push.close(linger=3000)
    ctl.close(linger=3000)
""")


@pytest.mark.timeout(120)
def test_forged_end_of_stream_and_control_events_are_dropped(media: dict[str, Path]) -> None:
    ep = _endpoint()
    sub = Subscriber(ep, ("pose", "stats"))

    def foreign(graph: RunningGraph) -> None:  # another process, knowing only the endpoints
        subprocess.run([sys.executable, "-c", FOREIGN, graph.specs[1].inbound,
                        graph.specs[1].control], check=True, timeout=60)

    cfg = _config(media["video"], media["estimates"], ep, wait_subscribers=1)
    result = run_graph(cfg, on_started=foreign)
    sub.join()
    assert [m.frame_index for m in sub.topic("pose")] == list(range(45))  # neither hung nor ended early
    assert result.rejected[1] == 2
    assert sum(n for r, n in result.reasons[1].items() if "end of stream not from" in r) == 2
    assert sum(result.control_rejected.values()) == 5, result.control_rejected


# --------------------------------------------------------------- messages at socket boundaries


def _header(kind: str = "frame", arrays: list | None = None, **over: object) -> bytes:
    h = {"v": SCHEMA_VERSION, "kind": kind, "stream": "x", "seq": 3, "frame_index": 3, "track": -1,
         "t_capture_ns": 0, "stamps": [], "arrays": arrays or [], "meta": {}}
    h.update(over)
    return msgpack.packb(h)


def _bad_messages() -> list[list[bytes]]:
    image = np.zeros((8, 8, 3), np.uint8)
    return [
        [_header(arrays=[["image", "uint8", [2 ** 32, 2 ** 32]]]), b""],  # shape overflows int64
        encode(Message(kind="frame", seq=3)),  # well-formed, but no image for detect
        encode(Message(kind="frame", seq=3, arrays={"image": image.astype(np.float32)})),
        encode(Message(kind="frame", seq=3, arrays={"image": image[..., 0]})),
        encode(Message(kind="nonsense", seq=3)),
        [_header(stamps=[["source", "late"]])],
        encode(Message(kind="frame", seq=3, arrays={"image": image}, meta={"dropped": "many"})),
    ]


@pytest.mark.timeout(120)
def test_messages_that_do_not_fit_the_stage_are_counted_and_dropped(
        media: dict[str, Path]) -> None:
    ep = _endpoint()
    sub = Subscriber(ep, ("pose", "stats"))

    def inject(graph: RunningGraph) -> None:
        # Called before the source may start: connect, wait until the connection is up, send,
        # and give the stage time to read them, so they are all in before the stream ends.
        from zmq.utils.monitor import recv_monitor_message

        ctx = zmq.Context.instance()
        push = ctx.socket(zmq.PUSH)
        monitor = push.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        push.connect(graph.specs[1].inbound)
        if monitor.poll(10_000):
            recv_monitor_message(monitor)
        for frames in _bad_messages():
            push.send_multipart(frames)
        time.sleep(0.5)
        push.disable_monitor()
        monitor.close(0)
        push.close(linger=3000)

    result = run_graph(_config(media["video"], media["estimates"], ep, wait_subscribers=1),
                       on_started=inject)
    sub.join()
    assert [m.frame_index for m in sub.topic("pose")] == list(range(45))
    assert result.rejected[1] == len(_bad_messages())
    reasons = " | ".join(result.reasons[1])
    for words in ("over the", "lacks array 'image'", "is float32", "needs (*, *, 3)",
                  "unknown message kind", "stamps", "'dropped'"):
        assert words in reasons, reasons
    final = sub.topic("stats")[-1].meta
    assert final["rejected"]["1"] == len(_bad_messages())


# ---------------------------------------------------------------------------- non-finite output


def _nan_estimates(path: Path, frames: slice) -> Path:
    est = make_estimates(45)
    # One joint, not the whole pose: an all-NaN pose is how a replay recording marks a frame
    # without a person (realtime/stages/perframe.py), which is not an output fault.
    est["pose_6d"][frames, 3] = np.nan
    return save_estimates(path, est)


@pytest.mark.timeout(120)
def test_non_finite_outputs_are_dropped_and_counted(media: dict[str, Path],
                                                    tmp_path: Path) -> None:
    ep = _endpoint()
    sub = Subscriber(ep, ("pose", "mesh", "stats"))
    est = _nan_estimates(tmp_path / "nan.npz", slice(10, 13))
    result = run_graph(_config(media["video"], est, ep, wait_subscribers=1))
    sub.join()
    poses = sub.topic("pose")
    assert [m.frame_index for m in poses] == [i for i in range(45) if not 10 <= i < 13]
    assert all(np.isfinite(a).all() for m in poses for a in m.arrays.values())
    assert all(np.isfinite(m.arrays["vertices"]).all() for m in sub.topic("mesh"))
    assert result.nonfinite == {"perframe": 3}


@pytest.mark.timeout(120)
def test_a_stage_that_keeps_producing_non_finite_values_ends_the_run(
        media: dict[str, Path], tmp_path: Path) -> None:
    est = _nan_estimates(tmp_path / "nan.npz", slice(10, None))
    with pytest.raises(GraphError, match=r"perframe: NonFiniteError: .*in 4 messages in a row"):
        run_graph(_config(media["video"], est, _endpoint(), nonfinite_limit=4))


def test_control_event_parser_drops_junk_without_raising() -> None:
    from stmocap.realtime.supervision import parse_event

    good = json.dumps({"event": "beat", "worker": 0, "token": "t", "received": 1, "sent": 1,
                       "at": None, "rejected": 0, "nonfinite": {}}).encode()
    assert parse_event(good, 2, "t")[0] is not None
    for raw in (b"\xff\xfe", b"null", b"[]", b'{"event": 1}', b'{"event": "beat", "worker": 5}',
                b'{"event": "beat", "worker": true}', good.replace(b'"received": 1', b'"received": "1"'),
                good):
        ev, reason = parse_event(raw, 2, "other" if raw == good else "t")
        assert ev is None and reason
