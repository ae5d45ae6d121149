"""``stmocap bridge vmc``: the real command between the real publisher and a real OSC server
(python-osc's UDP server thread on loopback). Every message is decoded; every bone rotation,
taken back from Unity's left-handed frame, equals the published SMPL rotation."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import zmq
from scipy.spatial.transform import Rotation
from stmocap.bridges.vmc import HUMANOID_BONES, to_unity_position, to_unity_quaternion
from stmocap.realtime.publisher import Publisher
from stmocap.viewer.geometry import UPRIGHT
from stmocap.viewer.sample import SampleBody, body_message

pythonosc = pytest.importorskip("pythonosc", reason="python-osc is not installed (stmocap[bridge])")


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _from_unity(q: np.ndarray) -> np.ndarray:
    """Unity (x, y, z, w), left-handed → right-handed rotation matrix (the inverse mapping)."""
    S = np.diag([-1.0, 1.0, 1.0])
    return S @ Rotation.from_quat(q).as_matrix() @ S


def test_mirror_conversion_matches_conjugation() -> None:
    rng = np.random.default_rng(0)
    S = np.diag([-1.0, 1.0, 1.0])
    for R in Rotation.random(20, random_state=1).as_matrix():
        q = to_unity_quaternion(R)
        np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), S @ R @ S, atol=1e-12)
        v = rng.normal(size=3)
        # Rotating then mirroring = mirroring then applying the mirrored rotation.
        np.testing.assert_allclose(to_unity_position(R @ v),
                                   Rotation.from_quat(q).as_matrix() @ to_unity_position(v), atol=1e-12)


def test_vmc_bridge_against_a_real_osc_server() -> None:
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    got: list[tuple[str, tuple]] = []
    lock = threading.Lock()

    def on_message(address: str, *args: object) -> None:
        with lock:
            got.append((address, args))

    dispatcher = Dispatcher()
    dispatcher.map("/VMC/Ext/*", on_message)
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    osc_port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    body = SampleBody()
    frames = [body.frame(phase=0.5 * i, x=0.1 * i) for i in range(5)]
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    pub = Publisher(endpoint, zmq.Context.instance(), queue_size=100, stats_period=0.2)
    proc = subprocess.Popen([sys.executable, "-m", "stmocap", "bridge", "vmc", endpoint, "--port",
                             str(osc_port)], stderr=subprocess.PIPE, text=True)
    try:
        pub.wait_for_clients(1, 60.0)
        for i, a in enumerate(frames):
            pub.put(body_message(a, frame_index=i, track=2))
            time.sleep(0.3)  # one bundle per frame: the bridge sends only the newest pose
        pub.end()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        pub.close()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, err
    sent = int(err.split("sent ")[1].split()[0])
    with lock:
        messages = list(got)
    per_frame = 1 + len(HUMANOID_BONES) + 2
    # Latest-only: under load two poses can arrive in one poll and only the newer is sent.
    assert 3 <= sent <= 5 and len(messages) == sent * per_frame
    addresses = {a for a, _ in messages}
    assert addresses == {"/VMC/Ext/Root/Pos", "/VMC/Ext/Bone/Pos", "/VMC/Ext/T", "/VMC/Ext/OK"}
    names = {v: k for k, v in HUMANOID_BONES.items()}
    root_x = [-(UPRIGHT @ a["joints3d"][0])[0] for a in frames]  # pelvis x, mirrored into Unity
    seen = []
    for k in range(sent):
        chunk = messages[k * per_frame:(k + 1) * per_frame]
        assert chunk[0][0] == "/VMC/Ext/Root/Pos" and chunk[0][1][0] == "root"
        f = int(np.argmin([abs(chunk[0][1][1] - x) for x in root_x]))
        assert chunk[0][1][1] == pytest.approx(root_x[f], abs=1e-5)
        seen.append(f)
        a = frames[f]
        bones = {args[0]: np.array(args[1:], np.float64) for addr, args in chunk
                 if addr == "/VMC/Ext/Bone/Pos"}
        assert set(bones) == set(names)
        for name, values in bones.items():
            j = names[name]
            R = _from_unity(values[3:])
            # Hips: the world orientation (no published placement: the upright camera).
            want = UPRIGHT @ a["rotmats"][0] if j == 0 else a["rotmats"][j]
            np.testing.assert_allclose(R, want, atol=2e-6, err_msg=f"frame {f} bone {name}")
        assert [args for addr, args in chunk if addr == "/VMC/Ext/OK"] == [(1,)]
    assert seen == sorted(set(seen)) and seen[-1] == 4  # in order, and the last frame arrives
