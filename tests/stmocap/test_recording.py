"""``listen --record``: the destination is checked before streaming, what arrives is on disk as it
arrives (a SIGKILL or a full disk keeps it readable), the .npz is written atomically and every
failure names its path. Real listener processes, a real PUB socket, real (small) file systems."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq
from stmocap.realtime.messages import Message, encode

from stmocap.recording import finalise, partial_path, read_partial


class Publisher:
    """An XPUB socket on a free port that knows when a listener has subscribed."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"

    def wait_subscribed(self, timeout: float = 60.0) -> None:
        """Until the listener's ``hello.<id>`` subscription arrives: it subscribes to it after
        its topics (docs/protocol.md), so every topic's ``eos`` then reaches it."""
        from stmocap.realtime.protocol_schema import HELLO_PREFIX

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sock.poll(200) and self.sock.recv().startswith(b"\x01" + HELLO_PREFIX):
                return
        raise AssertionError("the listener never subscribed")

    def pose(self, i: int, payload: int = 0) -> None:
        arrays = {"rotmats": np.full((24, 3, 3), i, np.float32)}
        if payload:
            arrays["blob"] = np.full(payload // 4, i, np.float32)
        msg = Message(kind="pose", seq=i, frame_index=i, track=0, t_capture_ns=time.monotonic_ns(),
                      arrays=arrays, meta={"fps": 30.0, "note": "text is not recorded"})
        self.sock.send_multipart([b"pose", *encode(msg)])

    def end(self) -> None:
        """The end of stream of docs/protocol.md: an ``eos`` message on every topic."""
        from stmocap.realtime.protocol_schema import TOPICS

        for topic in TOPICS:
            self.sock.send_multipart([topic.encode(), *encode(Message(kind="eos", meta={"eos": True}))])

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture()
def publisher() -> Iterator[Publisher]:
    pub = Publisher()
    yield pub
    pub.close()


def _listen(endpoint: str, record: Path, *extra: str, preexec=None) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    return subprocess.Popen([sys.executable, "-m", "stmocap", "listen", endpoint, "--record",
                             str(record), "--timeout", "60", *extra], stderr=subprocess.PIPE,
                            text=True, preexec_fn=preexec)


def _poses_on_disk(partial: Path) -> int:
    try:
        return sum(kind == "pose" for kind, _ in read_partial(partial))
    except (OSError, ValueError):
        return 0


def _wait_for(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_recording_is_complete_and_keeps_every_header_field(publisher: Publisher, tmp_path: Path) -> None:
    out = tmp_path / "take.npz"
    listener = _listen(publisher.endpoint, out)
    publisher.wait_subscribed()
    for i in range(25):
        publisher.pose(i)
    publisher.end()
    err = listener.communicate(timeout=60)[1]
    assert listener.returncode == 0, err
    assert f"recorded 25 poses to {out}" in err
    rec = np.load(out)
    assert rec["seq"].tolist() == list(range(25)) and rec["track"].tolist() == [0] * 25
    assert rec["rotmats"].shape == (25, 24, 3, 3) and rec["t_capture_ns"].dtype == np.int64
    assert rec["frame_index"].tolist() == list(range(25)) and rec["fps"][0] == 30.0
    assert "note" not in rec.files
    assert not partial_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.npz"]  # no temporary left


def test_sigkill_mid_stream_keeps_what_arrived(publisher: Publisher, tmp_path: Path) -> None:
    out = tmp_path / "take.npz"
    listener = _listen(publisher.endpoint, out)
    publisher.wait_subscribed()
    for i in range(30):
        publisher.pose(i)
    partial = partial_path(out)
    _wait_for(lambda: _poses_on_disk(partial) == 30)
    listener.send_signal(signal.SIGKILL)
    listener.communicate(timeout=30)
    assert not out.exists()
    records = [a for kind, a in read_partial(partial) if kind == "pose"]
    assert [int(a["seq"]) for a in records] == list(range(30))
    # the command the docs give finalises it
    done = subprocess.run([sys.executable, "-m", "stmocap.recording", str(partial)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert np.load(out)["seq"].tolist() == list(range(30)) and not partial.exists()


def test_a_record_cut_short_is_dropped_not_fatal(tmp_path: Path) -> None:
    from stmocap.recording import Recorder

    out = tmp_path / "cut.npz"
    rec = Recorder(out)
    for i in range(5):
        rec.add("pose", {"seq": np.int64(i), "x": np.zeros(100)})
    rec.close()
    partial = partial_path(out)
    partial.write_bytes(partial.read_bytes()[:-50])  # the last write was interrupted
    poses, _ = finalise(partial, out)
    assert poses == 4 and np.load(out)["seq"].tolist() == [0, 1, 2, 3]
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # not the temporary file's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["cut.npz"]


def test_missing_or_unwritable_destination_fails_before_streaming(tmp_path: Path) -> None:
    start = time.monotonic()
    # Nothing publishes on this endpoint: a listener that got past the check would wait 60 s.
    for record, needle in [(tmp_path / "missing" / "take.npz", "does not exist"),
                           (tmp_path, "is a folder"), (tmp_path / "take.txt", ".npz file")]:
        out = subprocess.run([sys.executable, "-m", "stmocap", "listen", "tcp://127.0.0.1:9",
                              "--record", str(record), "--timeout", "60"], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert needle in out.stderr and str(record) in out.stderr
    assert time.monotonic() - start < 50


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, *options: str) -> Iterator[Path]:
    path.mkdir()
    opts = ",".join((f"size={size}", *options))
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_read_only_folder_fails_before_streaming(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permissions: a read-only file system instead
        ctx = _tmpfs(tmp_path / "ro", "1m", "ro")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        ctx = contextlib.nullcontext(ro)
    with ctx as folder:
        out = subprocess.run([sys.executable, "-m", "stmocap", "listen", "tcp://127.0.0.1:9",
                              "--record", str(folder / "take.npz"), "--timeout", "60"],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"cannot write in {folder}" in out.stderr


def _check_disk_full(publisher: Publisher, out: Path, preexec=None) -> None:  # type: ignore[no-untyped-def]
    listener = _listen(publisher.endpoint, out, preexec=preexec)
    publisher.wait_subscribed()
    for i in range(40):  # 40 × 16 KiB: more than the room there is
        publisher.pose(i, payload=16384)
    err = listener.communicate(timeout=60)[1]
    assert listener.returncode == 2, err
    assert "Traceback" not in err
    partial = partial_path(out)
    assert str(partial) in err and "kept in it" in err
    kept = [int(a["seq"]) for kind, a in read_partial(partial) if kind == "pose"]
    assert len(kept) >= 2 and kept == list(range(len(kept)))  # what arrived before stays readable
    assert not out.exists()


def test_full_disk_while_streaming_keeps_what_arrived(publisher: Publisher, tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "small", "256k") as folder:
        _check_disk_full(publisher, folder / "take.npz")


def test_file_size_limit_while_streaming_keeps_what_arrived(publisher: Publisher,
                                                            tmp_path: Path) -> None:
    # The same failure without root: the listener may not write more than 200 KiB per file.
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    _check_disk_full(publisher, tmp_path / "take.npz", preexec=limit)


def test_full_disk_when_finalising_keeps_the_partial_file(publisher: Publisher, tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "small", "400k") as folder:
        out = folder / "take.npz"
        listener = _listen(publisher.endpoint, out)
        publisher.wait_subscribed()
        for i in range(14):  # ≈ 230 KiB streamed: fits, but not twice
            publisher.pose(i, payload=16384)
        publisher.end()
        err = listener.communicate(timeout=60)[1]
        assert listener.returncode == 2 and "Traceback" not in err, err
        assert f"cannot write the recording {out}" in err and str(partial_path(out)) in err
        assert not out.exists() and [p.name for p in folder.iterdir()] == [partial_path(out).name]
        assert sum(kind == "pose" for kind, _ in read_partial(partial_path(out))) == 14
