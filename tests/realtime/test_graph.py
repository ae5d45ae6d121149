"""The graph with real processes, real ZeroMQ sockets and real video files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import zmq
from stmocap.engines.factory import open_model_engine
from stmocap.realtime.filters import FilterConfig
from stmocap.realtime.graph import GraphError, RunningGraph, children_alive, make_specs, run_graph
from stmocap.realtime.pipeline import (
    GraphConfig,
    PerFrameConfig,
    PipelineConfig,
    PublishConfig,
    TemporalConfig,
)
from stmocap.realtime.security import create_keys, secure_client
from stmocap.realtime.sources import SourceConfig
from stmocap.realtime.windows import WindowPlan

from .conftest import write_video
from .helpers import Subscriber, make_estimates, offline_reference, save_estimates

TINY_FEATS = (16, 28, 28)


def _endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _config(video: Path, estimates: Path, endpoint: str, **kw) -> PipelineConfig:  # type: ignore[no-untyped-def]
    graph = kw.pop("graph", GraphConfig(wait_subscribers=1))
    # No smoothing: these tests compare the stream with the offline stitching of the same windows.
    return PipelineConfig(source=SourceConfig(source=str(video), realtime=kw.pop("realtime", False)),
                          smoothing=FilterConfig(filter="none"),
                          perframe=PerFrameConfig(profile="replay", estimates=estimates),
                          publish=PublishConfig(endpoint=endpoint, keys=kw.pop("keys", None)),
                          graph=graph, **kw)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("graph")
    est = make_estimates(45, feats_shape=TINY_FEATS)
    return {"video": write_video(d / "clip.avi", 45), "estimates": save_estimates(d / "est.npz", est),
            "long": write_video(d / "long.avi", 600, fps=30.0),
            "long_est": save_estimates(d / "long.npz", make_estimates(600))}


def test_video_through_the_graph_lossless(media: dict[str, Path]) -> None:
    ep = _endpoint()
    sub = Subscriber(ep, ("pose", "mesh", "stats"))
    result = run_graph(_config(media["video"], media["estimates"], ep,
                               plan=WindowPlan(window=8, stride=2, lookahead=3)))
    sub.join()
    poses = sub.topic("pose")
    assert [m.frame_index for m in poses] == list(range(45))  # frames in = messages out, in order
    assert [m.seq for m in poses] == list(range(45))  # nothing lost in this client's queue
    assert len(sub.topic("mesh")) == 45
    assert sub.topic("mesh.faces") and sub.topic("mesh.faces")[0].arrays["faces"].shape[1] == 3
    p = poses[10]
    assert p.arrays["rotmats"].shape == (24, 3, 3) and p.arrays["joints3d"].shape == (24, 3)
    assert p.arrays["pose_aa"].shape == (72,) and p.arrays["joints2d"].shape == (24, 2)
    assert sub.topic("mesh")[10].arrays["vertices"].shape == (13718, 3)  # the free body
    assert p.t_capture_ns < p.stamps["publish"]
    assert list(p.stamps)[:2] == ["source", "detect"]
    final = sub.topic("stats")[-1].meta
    assert final["eos"] and final["frames"] == 45 and final["dropped"] == 0
    for topic in ("pose", "mesh", "mesh.faces", "stats"):  # every topic ends with a marker
        last = sub.topic(topic, eos=True)[-1]
        assert last.kind == "eos" and last.frame_index == 44, topic
    assert result.stats["frames"] == 45


@pytest.mark.parametrize(("stride", "lookahead"), [(1, 0), (4, 7), (16, 15)])
def test_streaming_equals_offline(media: dict[str, Path], stride: int, lookahead: int) -> None:
    plan = WindowPlan(window=16, stride=stride, lookahead=lookahead)
    ep = _endpoint()
    sub = Subscriber(ep)
    run_graph(_config(media["video"], media["estimates"], ep, plan=plan,
                      temporal=TemporalConfig(temporal="net", preset="tiny")))
    poses = sub.join() and sub.topic("pose")
    est = dict(np.load(media["estimates"]))
    engine = open_model_engine("temporal", "tiny")
    rot, lin = offline_reference(est, plan, engine)
    got_rot = np.stack([m.arrays["rotmats"] for m in poses])
    got_lin = np.stack([np.concatenate([m.arrays["betas"], m.arrays["cam"]]) for m in poses])
    assert [m.seq for m in poses] == list(range(45))
    np.testing.assert_allclose(got_rot, rot, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got_lin, lin, atol=1e-6, rtol=0)


def test_streaming_equals_offline_lite_network(tmp_path: Path) -> None:
    """The lite network on vector features ``feats (T, 231)`` (the lite per-frame stage's): the
    stream gives what the offline windows + stitching give, at the real-time lookahead."""
    est = make_estimates(40, seed=3, feats_shape=(231,))
    video, path = write_video(tmp_path / "clip.avi", 40), save_estimates(tmp_path / "est.npz", est)
    plan = WindowPlan(window=16, stride=1, lookahead=0)
    ep = _endpoint()
    sub = Subscriber(ep)
    run_graph(_config(video, path, ep, plan=plan, temporal=TemporalConfig(temporal="net", preset="lite")))
    poses = sub.join() and sub.topic("pose")
    rot, lin = offline_reference(est, plan, open_model_engine("temporal", "lite"))
    assert [m.seq for m in poses] == list(range(40))
    np.testing.assert_allclose(np.stack([m.arrays["rotmats"] for m in poses]), rot, atol=1e-5, rtol=0)
    got_lin = np.stack([np.concatenate([m.arrays["betas"], m.arrays["cam"]]) for m in poses])
    np.testing.assert_allclose(got_lin, lin, atol=1e-5, rtol=0)


def test_slow_subscriber_does_not_slow_the_pipeline(media: dict[str, Path]) -> None:
    ep = _endpoint()
    cfg = _config(media["long"], media["long_est"], ep, graph=GraphConfig(wait_subscribers=2))
    fast = Subscriber(ep, ("pose", "stats"))
    # A reader that stalls for ~1 s (ten messages, 0.1 s each), then reads at full speed. A reader
    # slow throughout would only ever see the first, contiguous stretch the socket buffers held
    # (several MB of meshes on loopback) and never reach the frames queued after its losses.
    slow = Subscriber(ep, ("pose", "mesh", "stats"), delay_s=0.1, delay_first=10, hwm=4)
    t0 = time.monotonic()
    result = run_graph(cfg)
    elapsed = time.monotonic() - t0
    fast.join()
    slow.join()
    assert [m.seq for m in fast.topic("pose")] == list(range(600))
    slow_poses = slow.topic("pose")
    assert len(slow_poses) < 600  # it lost its own messages …
    # … and can tell: its seq gaps account for every frame gap (no drops, no empty frames here).
    for a, b in pairwise(slow_poses):
        assert b.frame_index - a.frame_index == b.seq - a.seq
        assert b.meta["dropped"] == a.meta["dropped"] and b.meta["no_person"] == a.meta["no_person"]
    assert any(b.seq - a.seq > 1 for a, b in pairwise(slow_poses))
    assert slow_poses[-1].frame_index == 599  # caught up, it reads to the end
    # … while the pipeline ran far faster than the slow reader while it stalled (10 msg/s; the
    # graph alone does ~250 FPS here, ~100 on a busy machine).
    assert result.stats["fps"] > 60, elapsed


def test_killing_a_worker_ends_the_run_cleanly(media: dict[str, Path]) -> None:
    ep = _endpoint()
    running: list[RunningGraph] = []
    cfg = _config(media["long"], media["long_est"], ep, realtime=True, graph=GraphConfig())

    killed_at: list[float] = []

    def kill() -> None:
        killed_at.append(time.monotonic())
        os.kill(running[0].processes[1].pid, signal.SIGKILL)

    def kill_later(graph: RunningGraph) -> None:
        running.append(graph)
        threading.Timer(1.5, kill).start()

    with pytest.raises(GraphError, match=r"worker 1 \(detect.*\) died \(signal 9\)"):
        run_graph(cfg, on_started=kill_later)
    # From the kill, not from the start: start-up alone takes 10-15 s on a loaded 2-core machine.
    assert time.monotonic() - killed_at[0] < 5
    assert children_alive(running[0]) == []


def test_stage_failure_is_named(media: dict[str, Path], tmp_path: Path) -> None:
    short = save_estimates(tmp_path / "short.npz", make_estimates(20))
    with pytest.raises(GraphError, match="perframe: ValueError: frame 20 has no recorded estimate"):
        run_graph(_config(media["video"], short, _endpoint(), graph=GraphConfig()))


def test_malformed_messages_are_rejected_and_counted(media: dict[str, Path]) -> None:
    ep = _endpoint()

    def inject(graph: RunningGraph) -> None:
        ctx = zmq.Context.instance()
        push = ctx.socket(zmq.PUSH)
        push.connect(graph.specs[1].inbound)
        for junk in ([b"not msgpack"], [b"\x81\xa1v\x63"], [b""]):
            push.send_multipart(junk)
        push.close(linger=2000)

    result = run_graph(_config(media["video"], media["estimates"], ep, graph=GraphConfig()),
                       on_started=inject)
    assert result.rejected[1] == 3
    assert result.stats["frames"] == 45 and result.stats["rejected"]["1"] == 3


def test_curve_only_authorised_clients_receive(media: dict[str, Path], tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    create_keys(keys)
    ep = _endpoint()
    good = Subscriber(ep, configure=lambda s: secure_client(s, keys))
    plain = Subscriber(ep, timeout_s=8)
    run_graph(_config(media["video"], media["estimates"], ep, keys=keys))
    good.join()
    plain.join(timeout=10)
    assert [m.frame_index for m in good.topic("pose")] == list(range(45))
    assert plain.messages == []


def test_ctrl_c_stops_run_cleanly(media: dict[str, Path]) -> None:
    ep = _endpoint()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stmocap", "run", "--source", str(media["long"]), "--realtime",
         "--profile", "replay", "--estimates", str(media["long_est"]), "--endpoint", ep],
        stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for the first status line
        line = proc.stderr.readline()
        lines.append(line)
        if "fps" in line:
            break
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
                              ).stdout.split()
    assert children, "".join(lines)
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=20)[1]
    assert proc.returncode == 130, rest
    assert "stopped:" in rest and "Traceback" not in rest
    time.sleep(0.5)
    for pid in children:  # no orphans
        assert not Path(f"/proc/{pid}").exists() or \
            "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_processes_share_the_cores() -> None:
    from dataclasses import replace

    cfg = PipelineConfig()
    specs = make_specs(cfg, "ipc:///tmp/x", "/tmp")
    assert len(specs) == 2  # lite placement: two processes
    assert all(s.threads == max(1, (os.cpu_count() or 1) // 2) for s in specs)
    cfg = replace(cfg, graph=replace(cfg.graph, process_threads=3))
    assert [s.threads for s in make_specs(cfg, "ipc:///tmp/x", "/tmp")] == [3, 3]
