"""The viewer's subscriber against the real publisher (XPUB thread, real TCP sockets, no Open3D):
newest state per track, faces on subscribe, losses counted, end of stream, a restarted publisher."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import numpy as np
import pytest
import zmq
from stmocap.realtime.messages import Message
from stmocap.realtime.publisher import Publisher
from stmocap.viewer.sample import body_message
from stmocap.viewer.stream import StreamClient


def _free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _until(client: StreamClient, cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; state {client.state}")
        client.poll(50)


@pytest.fixture(scope="module")
def frames(sample_body) -> list[dict[str, np.ndarray]]:  # type: ignore[no-untyped-def]
    return [sample_body.frame(phase=0.1 * i) for i in range(3)]


def _publisher(endpoint: str, faces: np.ndarray, queue: int = 1000) -> Publisher:
    pub = Publisher(endpoint, zmq.Context.instance(), queue_size=queue, stats_period=0.2)
    pub.put(Message(kind="faces", stream="main", arrays={"faces": faces}))
    return pub


def _wait_hello(pub: Publisher) -> None:
    pub.wait_for_clients(1, 30.0)


def test_keeps_newest_per_track_and_gets_faces(sample_body, frames) -> None:  # type: ignore[no-untyped-def]
    endpoint = _free_endpoint()
    pub = _publisher(endpoint, sample_body.faces)
    try:
        with StreamClient(endpoint, queue=1000) as client:
            _wait_hello(pub)
            for i in range(30):
                for track in (0, 3):
                    pub.put(body_message(frames[i % 3], frame_index=i, track=track))
            _until(client, lambda: all(p.frame_index == 29 and p.mesh_frame_index == 29
                                       for p in client.state.persons.values())
                   and set(client.state.persons) == {0, 3})
            state = client.state
            assert state.faces is not None
            np.testing.assert_array_equal(state.faces, sample_body.faces)
            p = state.persons[3]
            np.testing.assert_allclose(p.vertices, frames[29 % 3]["vertices"])
            np.testing.assert_allclose(p.pose["joints3d"], frames[29 % 3]["joints3d"])
            assert p.t_capture_ns > 0 and p.publish_ns >= p.t_capture_ns
            assert state.lost == 0 and state.restarts == 0 and state.malformed == 0
            pub.end()
            _until(client, lambda: state.ended >= {"pose", "mesh", "mesh.faces", "stats"})
            assert state.stats["eos"] is True and state.stats["frames"] == 60
    finally:
        pub.close()


def test_a_slow_client_loses_old_messages_not_new_ones(sample_body, frames) -> None:  # type: ignore[no-untyped-def]
    endpoint = _free_endpoint()
    pub = _publisher(endpoint, sample_body.faces, queue=2)
    try:
        with StreamClient(endpoint, topics=("mesh", "stats"), queue=2) as client:
            _wait_hello(pub)
            for i in range(400):  # 160 kB meshes and nobody reads meanwhile: the queues overflow
                pub.put(body_message(frames[i % 3], frame_index=i, track=0))
            time.sleep(0.5)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:  # now read: the queues empty
                client.poll(50)
            pub.end()  # (an eos sent into a full queue would be lost like any message)
            _until(client, lambda: "mesh" in client.state.ended)
            state = client.state
            # What overflowed (ZeroMQ drops whatever does not fit) is counted by seq gaps.
            assert state.lost > 0 and state.received["mesh"] < 400
            assert state.persons[0].mesh_frame_index > 0
            assert "pose" not in state.received
    finally:
        pub.close()


def test_survives_the_publisher_restarting(sample_body, frames) -> None:  # type: ignore[no-untyped-def]
    endpoint = _free_endpoint()
    pub = _publisher(endpoint, sample_body.faces)
    with StreamClient(endpoint, queue=1000) as client:
        try:
            _wait_hello(pub)
            for i in range(5):
                pub.put(body_message(frames[0], frame_index=i, track=1))
            _until(client, lambda: 1 in client.state.persons and
                   client.state.persons[1].mesh_frame_index == 4)
        finally:
            pub.close()  # crashed: no eos
        client.state.faces = None
        deadline = time.monotonic() + 20.0
        while True:  # the closed socket's port is released asynchronously
            try:
                pub = _publisher(endpoint, sample_body.faces[:100])
                break
            except zmq.ZMQError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        try:
            # The SUB socket reconnects by itself and subscribes again: faces come again.
            _until(client, lambda: client.state.faces is not None)
            assert len(client.state.faces) == 100
            for i in range(3):
                pub.put(body_message(frames[1], frame_index=i, track=7))
            _until(client, lambda: 7 in client.state.persons and
                   client.state.persons[7].mesh_frame_index == 2)
            assert client.state.restarts >= 1
            assert set(client.state.persons) == {7}  # the old run's track is forgotten
        finally:
            pub.close()


def test_stale_tracks_are_pruned() -> None:
    from stmocap.viewer.stream import StreamState

    state = StreamState(stale_s=0.5)
    msg = body_message({"joints3d": np.zeros((24, 3), np.float32)}, frame_index=0, track=2)
    msg.kind = "pose"
    state.apply("pose", msg, now_ns=0)
    state.prune(now_ns=int(0.4e9))
    assert 2 in state.persons
    state.prune(now_ns=int(0.6e9))
    assert not state.persons
