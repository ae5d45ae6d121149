"""The opt-in preview topic (``stmocap run --preview``): real JPEGs, real sockets, real runs.

A live run publishes previews that follow the documented schema, decode to the announced size and
carry the identity (``frame_index``, ``t_capture_ns``) of the frames the poses describe; the
publisher encodes nothing unless a client subscribes to the topic; without ``--preview`` the topic
carries only its end-of-stream marker.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import cv2
import msgpack
import numpy as np
import pytest
import zmq
from stmocap.models.camera import Intrinsics
from stmocap.realtime.messages import Message, decode, encode
from stmocap.realtime.preview import (
    PreviewConfig,
    PreviewLink,
    decode_preview,
    encode_preview,
    preview_message,
    preview_size,
    scale_intrinsics,
)
from stmocap.realtime.protocol_schema import check_message
from stmocap.realtime.publisher import Publisher
from stmocap.realtime.supervision import Flag

from .conftest import write_video
from .helpers import make_estimates, save_estimates
from .test_protocol import DocClient


def _endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _textured(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (h // 40, w // 40, 3), np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


# --- encoding ------------------------------------------------------------------------------------


def test_preview_is_a_jpeg_of_the_frame_at_the_announced_size() -> None:
    image = _textured(640, 480)
    jpeg, size, scale = encode_preview(image, 90, 320)
    assert jpeg.dtype == np.uint8 and jpeg.ndim == 1 and bytes(jpeg[:2]) == b"\xff\xd8"
    assert size == (320, 240) and scale == (0.5, 0.5)
    back = decode_preview(jpeg)
    assert back.shape == (240, 320, 3)
    want = cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)
    err = np.abs(back.astype(int) - want).mean()
    assert err < 3, err  # JPEG loss at quality 90
    assert np.abs(back[..., ::-1].astype(int) - want).mean() > 10 * err  # RGB order kept
    # Narrower than the limit, or no limit: full size; odd heights round.
    assert encode_preview(image, 80, 0)[1] == (640, 480)
    assert encode_preview(image, 80, 1000)[1] == (640, 480)
    assert preview_size(641, 361, 320) == (320, 180)
    assert decode_preview(np.zeros(10, np.uint8)) is None


def test_scaled_intrinsics_are_the_cameras_own_rescaling() -> None:
    """The mapping the document gives is the one the rest of stmocap uses (pixel centres kept)."""
    k = Intrinsics(600.0, 610.0, 319.5, 241.0, (640, 480), ())
    small = k.rescaled((320, 240))
    assert scale_intrinsics(k.fx, k.fy, k.cx, k.cy, (0.5, 0.5)) == pytest.approx(
        (small.fx, small.fy, small.cx, small.cy))


# --- the publisher: demand and forwarding, with real sockets -------------------------------------


def _wait(cond: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_publisher_asks_for_previews_only_while_a_client_subscribes(tmp_path: Path) -> None:
    ep = _endpoint()
    demand = Flag(mp.get_context("spawn"))
    link = PreviewLink(f"ipc://{tmp_path}/preview", demand, 1)
    pub = Publisher(ep, zmq.Context.instance(), queue_size=16, stats_period=0.1, preview=link)
    ctx = zmq.Context.instance()
    socks: list[zmq.Socket] = []

    def sub(*topics: bytes) -> zmq.Socket:
        s = ctx.socket(zmq.SUB)
        s.connect(ep)
        for t in topics:
            s.subscribe(t)
        s.subscribe(b"hello." + uuid.uuid4().hex.encode())
        socks.append(s)
        return s

    push = ctx.socket(zmq.PUSH)
    try:
        poses = sub(b"pose", b"mesh", b"stats")
        pub.wait_for_clients(1, 5)
        assert not _wait(demand.is_set, 0.5), "no client reads previews: nothing to encode"
        first = sub(b"preview")
        second = sub(b"")  # everything, previews included
        pub.wait_for_clients(3, 5)
        assert _wait(demand.is_set)
        first.close(0)
        time.sleep(0.3)
        assert demand.is_set(), "the second client still reads them"
        # A preview from the source's side reaches the subscriber, in the documented schema; a
        # malformed one is counted under the publishing process (index 1) and dropped.
        push.connect(link.endpoint)
        image = _textured(160, 120)
        push.send_multipart(encode(Message(kind="preview", arrays={"jpeg": np.zeros(3, np.uint8)},
                                           meta={"size": [1, 1]})))
        t0 = time.monotonic_ns()
        push.send_multipart(encode(preview_message(7, t0, t0 + 1, image, PreviewConfig())))
        got = []
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            if second.poll(100):
                topic, *frames = second.recv_multipart()
                if topic == b"preview":
                    got.append(frames)
        assert got and check_message("preview", got[0]) == []
        msg = decode(got[0])
        assert (msg.frame_index, msg.t_capture_ns, msg.track) == (7, t0, -1)
        assert list(msg.stamps) == ["source", "preview", "publish"]
        assert decode_preview(msg.arrays["jpeg"]).shape == (120, 160, 3)
        assert _wait(lambda: pub.summary(False)["rejected"].get("1") == 1)
        second.close(0)
        assert _wait(lambda: not demand.is_set()), "nobody reads previews any more"
        poses.close(0)
    finally:
        push.close(0)
        for s in socks:
            s.close(0)
        pub.close()


# --- a live run ----------------------------------------------------------------------------------


class Collector(DocClient):
    """The protocol test's client (every raw message until each subscribed topic ended), decoding."""

    def __init__(self, endpoint: str, topics: tuple[str, ...], timeout_s: float = 120.0) -> None:
        super().__init__(endpoint, topics, hwm=100000, timeout_s=timeout_s)

    def join(self) -> None:
        self.thread.join(60)
        assert not self.thread.is_alive()

    def messages(self, topic: str) -> list[Message]:
        return [decode(f) for t, f, _ in self.raw if t == topic]


def run_replay(video: Path, estimates: Path, ep: str, *extra: str) -> subprocess.CompletedProcess:
    """``stmocap run`` of the replay profile (cheap: no model but the body) on ``video``."""
    return subprocess.run(
        [sys.executable, "-m", "stmocap", "run", "--source", str(video), "--profile", "replay",
         "--estimates", str(estimates), "--endpoint", ep, "--wait-subscribers", "1",
         "--window", "8", "--stride", "2", "--lookahead", "3", *extra],
        capture_output=True, text=True, timeout=180)


def test_a_run_with_preview_publishes_the_frames_the_poses_describe(tmp_path: Path) -> None:
    n = 30
    video = write_video(tmp_path / "clip.avi", n, size=(320, 240))
    estimates = save_estimates(tmp_path / "est.npz", make_estimates(n))
    ep = _endpoint()
    client = Collector(ep, ("pose", "preview", "stats"))
    run = run_replay(video, estimates, ep, "--preview", "--preview-width", "160",
                     "--preview-quality", "90", "--preview-fps", "0")
    assert run.returncode == 0, run.stderr
    assert "topics pose, mesh, stats, preview" in run.stderr
    client.join()
    assert [p for t, f, _ in client.raw for p in check_message(t, f)] == []
    seqs = [msgpack.unpackb(f[0])["seq"] for t, f, _ in client.raw if t == "preview"]
    assert seqs == list(range(len(seqs)))  # from 0 (held by --wait-subscribers), no gap, eos last
    msgs = client.messages("preview")
    assert msgs[-1].kind == "eos"
    previews = msgs[:-1]
    poses = {m.frame_index: m for m in client.messages("pose") if m.kind == "pose"}
    assert sorted(poses) == list(range(n))
    # Latest-only: frames may be skipped (never while the source waits), never repeated or
    # reordered; most get through on an idle pipeline.
    indices = [m.frame_index for m in previews]
    assert indices == sorted(set(indices)) and set(indices) <= set(poses)
    assert len(indices) >= n // 3, indices
    reader = cv2.VideoCapture(str(video))
    frames = [cv2.cvtColor(reader.read()[1], cv2.COLOR_BGR2RGB) for _ in range(n)]
    reader.release()
    for m in previews:
        pose = poses[m.frame_index]
        assert m.t_capture_ns == pose.t_capture_ns and m.track == -1  # the same captured frame
        assert m.meta == {"image_size": pose.meta["image_size"], "size": [160, 120],
                          "scale": [0.5, 0.5], "quality": 90}
        image = decode_preview(m.arrays["jpeg"])
        assert image.shape == (120, 160, 3)
        want = cv2.resize(frames[m.frame_index], (160, 120), interpolation=cv2.INTER_AREA)
        assert np.abs(image.astype(int) - want).mean() < 4, m.frame_index  # that frame's image


def test_without_preview_the_topic_only_ends(tmp_path: Path) -> None:
    """``--preview`` off: ``listen --topics preview`` receives nothing but the topic's eos."""
    video = write_video(tmp_path / "clip.avi", 12)
    estimates = save_estimates(tmp_path / "est.npz", make_estimates(12))
    ep = _endpoint()
    listen = subprocess.Popen([sys.executable, "-m", "stmocap", "listen", ep, "--topics",
                               "preview", "--timeout", "120"], stderr=subprocess.PIPE, text=True)
    try:
        run = run_replay(video, estimates, ep)
        err = listen.communicate(timeout=60)[1]
    finally:
        if listen.poll() is None:
            listen.kill()
    assert run.returncode == 0, run.stderr
    assert "topics pose, mesh, stats)" in run.stderr
    last = err.strip().splitlines()[-1]
    assert last.startswith("received {}") and "stream ended" in last, err


def test_demo_run_with_preview(tmp_path: Path) -> None:
    """``stmocap run --source demo --preview`` in miniature (the lite profile on the demo clip):
    the previews are the demo's frames, scaled, and pair with the poses by frame."""
    ep = _endpoint()
    client = Collector(ep, ("pose", "preview"))
    run = subprocess.run(
        [sys.executable, "-m", "stmocap", "run", "--source", "demo", "--frames", "10",
         "--endpoint", ep, "--wait-subscribers", "1", "--preview", "--preview-width", "320",
         "--preview-fps", "0"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    client.join()
    assert [p for t, f, _ in client.raw for p in check_message(t, f)] == []
    poses = {m.frame_index: m for m in client.messages("pose") if m.kind == "pose"}
    previews = [m for m in client.messages("preview") if m.kind == "preview"]
    assert previews and sorted(poses) == list(range(10))
    for m in previews:
        W, H = poses[m.frame_index].meta["image_size"]
        assert m.meta["image_size"] == [W, H] and m.t_capture_ns == poses[m.frame_index].t_capture_ns
        w, h = m.meta["size"]
        assert w == min(W, 320) and decode_preview(m.arrays["jpeg"]).shape == (h, w, 3)
        assert m.meta["scale"] == pytest.approx([w / W, h / H])
