"""The public wire contract (docs/protocol.md) against the wire: real sockets, a real `stmocap run`.

The client code here uses only zmq, msgpack and numpy, as the document's reference client does.
"""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq
import zmq.auth
from stmocap.realtime import messages, protocol_schema
from stmocap.realtime.messages import Message
from stmocap.realtime.protocol_schema import KINDS, TOPICS, check_message
from stmocap.realtime.security import create_keys, secure_client
from stmocap.realtime.stages.publish import PublishConfig, PublishStage

from .conftest import write_video
from .helpers import make_estimates, save_estimates

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


def _endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


# --- the document's tables are the schema --------------------------------------------------------


def _tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(heading above, header cells, rows) of every markdown table in ``text``."""
    out, heading, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            out.append((heading, cells, rows))
            continue
        i += 1
    return out


def _code(cell: str) -> str:
    return cell.strip().strip("`")


def _shape(cell: str) -> tuple[int | str, ...]:
    return tuple(int(d) if d.strip().isdigit() else d.strip()
                 for d in cell.strip("()").split(",") if d.strip())


def test_document_tables_match_the_schema() -> None:
    text = DOC.read_text()
    assert re.search(r"^# Stream protocol \(schema version (\d+)\)", text, re.M).group(1) == \
        str(protocol_schema.VERSION) == str(messages.SCHEMA_VERSION)
    dtypes_line = next(line for line in text.splitlines() if line.startswith("Allowed dtypes"))
    assert tuple(re.findall(r"`(\w+)`", dtypes_line)) == protocol_schema.DTYPES
    assert set(protocol_schema.DTYPES) == messages.DTYPES
    tables = _tables(text)
    header = next(rows for h, cells, rows in tables if h == "Header")
    assert [(_code(r[0]), r[1]) for r in header] == [(f.name, f.type) for f in protocol_schema.HEADER]
    kinds = next(rows for h, cells, rows in tables if h == "Kinds")
    assert {_code(r[0]): (tuple(_code(t) for t in r[1].split(",")), r[2] == "yes", r[3] == "yes")
            for r in kinds} == {k.kind: (k.topics, k.frame_header, k.per_person) for k in KINDS.values()}
    for kind in KINDS.values():
        section = [(cells, rows) for h, cells, rows in tables if h.startswith(f"Kind `{kind.kind}`")]
        arrays = [rows for cells, rows in section if cells[0] == "array"]
        got = [(_code(r[0]), r[1], _shape(r[2])) for r in arrays[0]] if arrays else []
        assert got == [(a.name, a.dtype, a.shape) for a in kind.arrays], kind.kind
        meta = [rows for cells, rows in section if cells[0] == "meta key"]
        if kind.kind == "eos":  # documented as "the keys of the stats table"
            assert kind.meta == KINDS["stats"].meta
            continue
        got_meta = [(_code(r[0]), r[1], r[2] == "yes") for r in meta[0]] if meta else []
        assert got_meta == [(f.name, f.type, f.required) for f in kind.meta], kind.kind
    # Documented where it is sent: rejected is a stats key (a map by process), not a pose key.
    assert "rejected" not in protocol_schema.POSE_META
    assert any(f.name == "rejected" and f.type == "{str: int}" for f in KINDS["stats"].meta)
    # The free body's mesh size, not SMPL's alone.
    assert "13,718" in text and "6,890" in text
    assert "--wait-subscribers" in text and "hello.<id>" in text and "0600" in text
    assert "## Compatibility: what bumps the version" in text
    assert "clients must ignore header fields, meta keys and arrays" in text


# --- a live run, read by a client written from the document --------------------------------------


class DocClient:
    """SUB socket on a thread: subscribes to ``topics`` then says hello; keeps raw messages."""

    def __init__(self, endpoint: str, topics: tuple[str, ...], hwm: int = 10000,
                 timeout_s: float = 90.0) -> None:
        self.raw: list[tuple[str, list[bytes], int]] = []  # topic, frames, receive time (ns)
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, hwm)
        self.sock.connect(endpoint)
        for t in topics:
            self.sock.subscribe(t.encode())
        self.sock.subscribe(b"hello." + uuid.uuid4().hex.encode())
        self.expect = {t for t in TOPICS if any(t.startswith(p) for p in topics)}
        self.timeout_s = timeout_s
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        ended: set[str] = set()
        deadline = time.monotonic() + self.timeout_s
        while ended != self.expect and time.monotonic() < deadline:
            if not self.sock.poll(100):
                continue
            topic, *frames = self.sock.recv_multipart()
            self.raw.append((topic.decode(), frames, time.monotonic_ns()))
            if msgpack.unpackb(frames[0]).get("kind") == "eos":
                ended.add(topic.decode())
        self.sock.close(0)

    def headers(self, topic: str) -> list[dict[str, Any]]:
        return [msgpack.unpackb(f[0]) for t, f, _ in self.raw if t == topic]


def test_live_run_matches_the_documented_schema(tmp_path: Path) -> None:
    n, gap = 60, range(20, 38)  # 18 frames (0.6 s at 30 fps) without a person
    est = make_estimates(n)
    est["pose_6d"][list(gap)] = np.nan
    video = write_video(tmp_path / "clip.avi", n)
    estimates = save_estimates(tmp_path / "est.npz", est)
    ep = _endpoint()
    everything = DocClient(ep, ("pose", "mesh", "stats"))
    mesh_only = DocClient(ep, ("mesh",))
    run = subprocess.run(
        [sys.executable, "-m", "stmocap", "run", "--source", str(video), "--realtime", "--profile",
         "replay", "--estimates", str(estimates), "--endpoint", ep, "--wait-subscribers", "2",
         "--stats-period", "0.1", "--window", "8", "--stride", "2", "--lookahead", "3"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for client in (everything, mesh_only):
        client.thread.join(30)
        assert not client.thread.is_alive()
    problems = [f"{t} #{i}: {p}" for client in (everything, mesh_only)
                for i, (t, frames, _) in enumerate(client.raw) for p in check_message(t, frames)]
    assert problems == []
    # Every topic ended with a marker; seq counts each topic's messages without gaps (from 0 for
    # the frames' topics: --wait-subscribers held them; heartbeats before the hello are missed).
    for client in (everything, mesh_only):
        for topic in client.expect:
            hs = client.headers(topic)
            assert hs[-1]["kind"] == "eos", topic
            seqs = [h["seq"] for h in hs]
            assert seqs == list(range(seqs[0], seqs[0] + len(hs))), topic
            assert seqs[0] == 0 or topic == "stats", topic
    poses = [h for h in everything.headers("pose") if h["kind"] == "pose"]
    published = [h["frame_index"] for h in poses]
    assert published == sorted(set(published)) and not set(published) & set(gap)
    assert [h["frame_index"] for h in mesh_only.headers("mesh") if h["kind"] == "mesh"] == published
    # The gap rule of the document: frame gaps = seq gaps + drops + unreadable frames + frames
    # without a person.
    for a, b in pairwise(poses):
        assert b["frame_index"] - a["frame_index"] - 1 == (b["seq"] - a["seq"] - 1) + sum(
            b["meta"][k] - a["meta"][k] for k in ("dropped", "unreadable", "no_person"))
    final = everything.headers("stats")[-1]["meta"]  # the eos marker carries the final stats
    # Each source frame was published, dropped upstream (the paced source may skip some at the
    # start) or had nobody in it.
    assert len(poses) + final["dropped"] + final["no_person"] == n
    assert 0 < final["no_person"] <= len(gap) and poses[-1]["meta"]["no_person"] == final["no_person"]
    # stats: a heartbeat that keeps its period while nobody is visible, counting the empty frames.
    stats = [(h, t_ns) for (tp, f, t_ns) in everything.raw if tp == "stats"
             for h in [msgpack.unpackb(f[0])] if h["kind"] == "stats"]
    before = max(i for i, h in enumerate(poses) if h["frame_index"] < gap.start)
    t_gap = [poses[before]["stamps"][-1][1], poses[before + 1]["stamps"][-1][1]]  # nobody visible
    during = [h for h, _ in stats if t_gap[0] < h["stamps"][0][1] < t_gap[1]]
    assert len(during) >= 3, "stats stopped while nobody was visible"
    assert during[-1]["frame_index"] > during[0]["frame_index"]
    assert during[-1]["meta"]["no_person"] > during[0]["meta"]["no_person"]
    sent = [h["stamps"][0][1] for h, _ in stats[:-1]]
    intervals = np.diff(sent) / 1e9
    assert np.median(intervals) == pytest.approx(0.1, abs=0.03)
    last = stats[-1][0]["meta"]
    assert last["eos"] and last["frames"] == len(published) and last == final
    assert isinstance(final["rejected"], dict)


# --- the publisher on its own (no graph) ---------------------------------------------------------


def _body(frame: int, t_ns: int) -> Message:
    rng = np.random.default_rng(frame)
    arrays = {k: rng.normal(size=s).astype(np.float32) for k, s in (
        ("rotmats", (24, 3, 3)), ("pose_aa", (72,)), ("betas", (10,)), ("cam", (3,)),
        ("transl", (3,)), ("pelvis", (3,)), ("joints3d", (24, 3)), ("joints2d", (24, 2)),
        ("box", (4,)), ("T_world_cam", (4, 4)), ("pelvis_world", (3,)), ("vertices", (13718, 3)))}
    msg = Message(kind="body", seq=frame, stream="main", track=0, t_capture_ns=t_ns,
                  stamps={"source": t_ns + 1, "body": t_ns + 2}, arrays=arrays,
                  meta={"image_size": [160, 120],
                        "intrinsics": {"fx": 200.0, "fy": 200.0, "cx": 80.0, "cy": 60.0,
                                       "size": [160, 120], "dist": []},
                        "world_frame": {"stable": False, "camera_height": 0.0, "camera_pitch": 0.0,
                                        "camera_roll": 0.0, "contacts": 0},
                        "fps": 30.0, "windows": 1, "dropped": 0, "unreadable": 0, "no_person": 0,
                        "rejected": {"1": 2}})
    msg.frame_index = frame  # set after construction so this runs against schema v1 code too
    return msg


def _sub(ep: str, topics: tuple[bytes, ...], hello: bool = True,
         configure: Any = None) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.SUB)
    if configure is not None:  # e.g. CURVE keys, before connecting
        configure(sock)
    sock.connect(ep)
    for t in topics:
        sock.subscribe(t)
    if hello:
        sock.subscribe(b"hello." + uuid.uuid4().hex.encode())
    return sock


def _recv_all(sock: zmq.Socket, seconds: float) -> list[tuple[bytes, dict[str, Any]]]:
    out, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if sock.poll(int(left * 1000) + 1):
            topic, header, *_ = sock.recv_multipart()
            out.append((topic, msgpack.unpackb(header, strict_map_key=False)))
    return out


def test_stats_is_a_heartbeat_that_keeps_its_period_without_frames() -> None:
    ep = _endpoint()
    sub = _sub(ep, (b"stats",))
    stage = PublishStage(PublishConfig(endpoint=ep, stats_period=0.2))
    try:
        got = _recv_all(sub, 1.3)  # no frame at all: the heartbeat alone
    finally:
        stage.close()
        sub.close(0)
    assert len(got) >= 5, got
    assert all(h["kind"] == "stats" and h["meta"]["frames"] == 0 for _, h in got)


def test_every_subscribed_topic_gets_an_end_of_stream_marker() -> None:
    ep = _endpoint()
    subs = {name: _sub(ep, topics) for name, topics in
            (("pose", (b"pose",)), ("mesh", (b"mesh",)), ("stats", (b"stats",)))}
    stage = PublishStage(PublishConfig(endpoint=ep))
    try:
        time.sleep(0.5)  # let the subscriptions arrive (without relying on --wait-subscribers)
        t0 = time.monotonic_ns()
        body = _body(0, t0)
        faces = Message(kind="faces", arrays={"faces": np.zeros((4, 3), np.int32)})
        faces.frame_index = 0
        stage.process(faces)
        stage.process(body)
        stage.finish()
        got = {name: _recv_all(s, 1.0) for name, s in subs.items()}
    finally:
        stage.close()
        for s in subs.values():
            s.close(0)
    for name, msgs in got.items():
        ended = {t for t, h in msgs if h["kind"] == "eos"}
        want = {b"mesh", b"mesh.faces"} if name == "mesh" else {name.encode()}
        assert ended == want, (name, [(t, h["kind"]) for t, h in msgs])
    pose = next(h for t, h in got["pose"] if h["kind"] == "pose")
    assert "rejected" not in pose["meta"]
    final = [h for t, h in got["stats"] if h["kind"] == "stats"][-1]["meta"]
    assert final["eos"] and final["rejected"] == {"1": 2}


def test_wait_subscribers_counts_clients_not_subscriptions() -> None:
    ep = _endpoint()
    # One client subscribed to two prefixes that both cover pose: one client, not two.
    one = _sub(ep, (b"pose", b""))
    try:
        with pytest.raises(TimeoutError):
            PublishStage(PublishConfig(endpoint=ep), wait_subscribers=2, wait_timeout=1.5)
    finally:
        one.close(0)


def test_wait_subscribers_counts_a_client_of_mesh_only() -> None:
    ep = _endpoint()
    mesh = _sub(ep, (b"mesh",))
    try:
        stage = PublishStage(PublishConfig(endpoint=ep), wait_subscribers=1, wait_timeout=5)
        stage.close()
    finally:
        mesh.close(0)


# --- CURVE keys -----------------------------------------------------------------------------------


def test_secret_key_files_are_private_and_in_zmq_format(tmp_path: Path) -> None:
    server_secret, client_secret = create_keys(tmp_path / "keys")
    keys = tmp_path / "keys"
    modes = {p.relative_to(keys).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in keys.rglob("*") if p.is_file()}
    assert modes == {"server.key": 0o644, "server.key_secret": 0o600,
                     "clients/client.key": 0o644, "clients/client.key_secret": 0o600}
    for path in (server_secret, client_secret):
        public, secret = zmq.auth.load_certificate(str(path))
        assert len(public) == len(secret) == 40
        assert zmq.auth.load_certificate(str(path.with_suffix(".key"))) == (public, None)


def test_keys_again_adds_a_client_and_keeps_the_server_pair(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    create_keys(keys)
    before = (keys / "server.key_secret").read_bytes()
    create_keys(keys, "second")
    assert (keys / "server.key_secret").read_bytes() == before
    assert (keys / "clients" / "second.key").is_file() and (keys / "clients" / "client.key").is_file()


def test_a_client_key_added_while_publishing_needs_no_restart(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    create_keys(keys)
    ep = _endpoint()
    stage = PublishStage(PublishConfig(endpoint=ep, keys=keys, stats_period=0.1))
    late = unknown = None
    try:
        # Added after the publisher started, in the documented format (here by pyzmq itself).
        zmq.auth.create_certificates(str(keys / "clients"), "late")
        late = _sub(ep, (b"stats",), configure=lambda s: secure_client(s, keys, "late"))
        stranger = tmp_path / "stranger"
        create_keys(stranger)
        server_public = zmq.auth.load_certificate(str(keys / "server.key"))[0]

        def as_stranger(sock: zmq.Socket) -> None:
            secure_client(sock, stranger)
            sock.curve_serverkey = server_public

        unknown = _sub(ep, (b"stats",), configure=as_stranger)
        got_late, got_unknown = _recv_all(late, 1.5), _recv_all(unknown, 0.5)
    finally:
        stage.close()
        for s in (late, unknown):
            if s is not None:
                s.close(0)
    assert got_late and got_late[0][1]["kind"] == "stats"
    assert got_unknown == []


def test_listen_reference_client_ends_on_any_topic_and_names_the_gaps(tmp_path: Path) -> None:
    est = make_estimates(30)
    est["pose_6d"][10:15] = np.nan  # five frames without a person
    video = write_video(tmp_path / "clip.avi", 30)
    estimates = save_estimates(tmp_path / "est.npz", est)
    ep = _endpoint()
    listen = subprocess.Popen([sys.executable, "-m", "stmocap", "listen", ep, "--topics", "mesh",
                               "--timeout", "90"], stderr=subprocess.PIPE, text=True)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "stmocap", "run", "--source", str(video), "--profile", "replay",
             "--estimates", str(estimates), "--endpoint", ep, "--wait-subscribers", "1",
             "--window", "8", "--stride", "2", "--lookahead", "3"],
            capture_output=True, text=True, timeout=120)
        err = listen.communicate(timeout=60)[1]
    finally:
        if listen.poll() is None:
            listen.kill()
    assert run.returncode == 0, run.stderr
    summary = [ln for ln in run.stderr.splitlines() if ln.startswith("done:")][-1]  # the run's own
    assert ", no person 5" in summary + ",", summary
    last = err.strip().splitlines()[-1]
    assert "stream ended" in last and "'mesh': 25" in last, err  # a client of mesh only ends too
    assert "lost here 0" in last



def test_the_documents_reference_client_runs_against_a_live_stream(tmp_path: Path) -> None:
    text = DOC.read_text()
    section = text[text.index("## Reference client"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[:code.index("```")]
    ep = _endpoint()
    client_py = tmp_path / "client.py"
    client_py.write_text(code.replace("tcp://127.0.0.1:5556", ep))
    client = subprocess.Popen([sys.executable, str(client_py)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        video = write_video(tmp_path / "clip.avi", 20)
        estimates = save_estimates(tmp_path / "est.npz", make_estimates(20))
        run = subprocess.run(
            [sys.executable, "-m", "stmocap", "run", "--source", str(video), "--profile", "replay",
             "--estimates", str(estimates), "--endpoint", ep, "--wait-subscribers", "1",
             "--window", "8", "--stride", "2", "--lookahead", "3"],
            capture_output=True, text=True, timeout=120)
        out, err = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
    assert run.returncode == 0, run.stderr
    assert client.returncode == 0, err  # it saw the end of both its topics and stopped
    assert [int(line.split()[0]) for line in out.splitlines()] == list(range(20))
