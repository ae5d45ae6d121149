"""``stmocap export-motion``: a session recorded by the real ``stmocap listen --record`` from the
real publisher becomes one BVH per track; an independent parser (bvhio, PyPI) reads it back and
its forward kinematics put every joint within 1 mm of the recorded joints (world frame)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zmq
from stmocap.motion.bvh import UPRIGHT
from stmocap.motion.session import read_session
from stmocap.realtime.publisher import Publisher
from stmocap.viewer.sample import SampleBody, body_message

from stmocap.cli import main

BETAS = np.array([1.2, -0.8, 0.5, 0.0, 0.3, 0.0, -0.2, 0.0, 0.1, 0.0], np.float32)


def _free_endpoint() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, list[dict]]]:
    """A real listen --record of two tracks (12 and 6 frames, the second with another shape)."""
    body = SampleBody()
    folder = tmp_path_factory.mktemp("session")
    path = folder / "take.npz"
    endpoint = _free_endpoint()
    pub = Publisher(endpoint, zmq.Context.instance(), queue_size=1000, stats_period=0.2)
    proc = subprocess.Popen([sys.executable, "-m", "stmocap", "listen", endpoint, "--record",
                             str(path), "--timeout", "120"], stderr=subprocess.PIPE, text=True)
    sent: dict[int, list[dict]] = {0: [], 5: [], 9: []}
    try:
        pub.wait_for_clients(1, 60.0)
        for i in range(12):
            a = body.frame(phase=0.4 * i, x=-0.3 + 0.02 * i, depth=3.0 + 0.05 * i)
            pub.put(body_message(a, frame_index=i, track=0))
            sent[0].append(a)
            if i % 2 == 0:
                b = body.frame(phase=1.0 - 0.3 * i, x=0.8, depth=4.0, betas=BETAS)
                pub.put(body_message(b, frame_index=i, track=5))
                sent[5].append(b)
            if i < 4:  # a shape that changes from frame to frame, as a live fit's does
                c = body.frame(phase=0.2 * i, x=-1.0, depth=3.5, betas=BETAS * (i - 1.5))
                pub.put(body_message(c, frame_index=i, track=9))
                sent[9].append(c)
        pub.end()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        pub.close()
    assert proc.returncode == 0 and path.exists(), err
    return path, sent


def _bvhio_joints(path: Path, frames: int) -> tuple[list[str], np.ndarray]:
    import bvhio

    root = bvhio.readAsHierarchy(str(path))
    joints = [j for j, _, _ in root.layout()]
    names = [j.Name for j in joints]
    out = np.zeros((frames, len(joints), 3))
    for f in range(frames):
        root.loadPose(f)
        for k, j in enumerate(joints):
            p = j.PositionWorld
            out[f, k] = (p.x, p.y, p.z)
    return names, out


def _world(points: np.ndarray, frames: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Camera-frame ``points (N, J, 3)`` in the world frame the BVH uses: the published
    ``T_world_cam`` where the frames carry it, else upright with the take's lowest joint on y = 0."""
    if "T_world_cam" in frames[0]:
        T = np.stack([f["T_world_cam"] for f in frames]).astype(np.float64)
        return np.einsum("nij,nkj->nki", T[:, :3, :3], points) + T[:, None, :3, 3]
    lowest = (np.stack([f["joints3d"] for f in frames]).astype(np.float64) @ UPRIGHT.T)[..., 1].min()
    out = points @ UPRIGHT.T
    out[..., 1] -= lowest
    return out


def test_bvh_round_trip_with_bvhio_within_1mm(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from stmocap.models.body.synthetic import SMPL_JOINT_NAMES

    path, sent = session
    assert main(["export-motion", str(path), "--out-dir", str(tmp_path), "--fps", "30"]) == 0
    for track, frames in sent.items():
        if track == 9:
            continue  # changing shape: below
        bvh = tmp_path / f"take.track{track}.bvh"
        text = bvh.read_text()
        assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
        assert f"Frames: {len(frames)}" in text and "Frame Time: 0.03333333" in text
        names, got = _bvhio_joints(bvh, len(frames))
        cols = [names.index(n) for n in SMPL_JOINT_NAMES]  # End Sites are not joints in bvhio
        # Ours: the published camera-frame joints in the published world frame.
        ours = _world(np.stack([f["joints3d"] for f in frames]).astype(np.float64), frames)
        err_mm = np.abs(got[:, cols] - ours).max() * 1000
        assert err_mm < 1.0, f"track {track}: bvhio joints differ by {err_mm:.3f} mm"
    # A shape that changes: the BVH has one skeleton, the body model's at the track's mean β, so
    # bvhio's joints match our body model's forward kinematics at that β with the recorded
    # rotations and pelvis (and differ from the published joints by the bone-length changes).
    import torch

    frames = sent[9]
    names, got = _bvhio_joints(tmp_path / "take.track9.bvh", len(frames))
    body = SampleBody().body
    rot = torch.as_tensor(np.stack([f["rotmats"] for f in frames]))
    mean = torch.as_tensor(np.stack([f["betas"] for f in frames]).mean(0)).expand(len(frames), 10)
    with torch.inference_mode():
        fk = body(rot, mean).joints.numpy().astype(np.float64)
    pelvis = np.stack([f["joints3d"][0] for f in frames]).astype(np.float64)
    ours = _world(fk - fk[:, :1] + pelvis[:, None], frames)
    cols = [names.index(n) for n in SMPL_JOINT_NAMES]
    err_mm = np.abs(got[:, cols] - ours).max() * 1000
    assert err_mm < 1.0, f"changing shape: bvhio joints differ from our FK by {err_mm:.3f} mm"
    # Each track has its own shape: the second person's thigh is longer.
    legs = [np.linalg.norm(np.stack([f["joints3d"] for f in sent[t]])[:, 4] -
                           np.stack([f["joints3d"] for f in sent[t]])[:, 1], axis=-1).mean()
            for t in (0, 5)]
    assert abs(legs[0] - legs[1]) > 0.005


def test_npz_export_and_a_reader_tolerant_to_extra_keys(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, sent = session
    with np.load(path) as data:
        rec = dict(data)
    n = len(rec["track"])
    # What newer recorders add: v2 frame_index, metric placement, other header fields.
    T = np.tile(np.eye(4, dtype=np.float32), (n, 1, 1))
    T[:, :3, :3] = UPRIGHT
    T[:, 1, 3] = 1.5
    rec.update(frame_index=rec.get("frame_index", rec["seq"]).copy(), seq=np.arange(n), T_world_cam=T,
               pelvis=rec["joints3d"][:, 0], stream_seq=np.arange(n), note=np.array(["x"] * n))
    richer = tmp_path / "richer.npz"
    np.savez(richer, **rec)
    tracks = read_session(richer)
    assert sorted(tracks) == [0, 5, 9] and len(tracks[0].frames) == 12 and len(tracks[5].frames) == 6
    assert tracks[5].frames.tolist() == [0, 2, 4, 6, 8, 10]
    assert main(["export-motion", str(richer), "--to", "npz", "--track", "0", "--out-dir",
                 str(tmp_path)]) == 0
    with np.load(tmp_path / "richer.track0.npz") as m:
        joints = m["joints"]
        assert m["local_rotmats"].shape == (12, 24, 3, 3) and float(m["fps"]) == 30.0
    # With T_world_cam the world is exactly the published placement (here: camera 1.5 m up).
    want = np.stack([f["joints3d"] for f in sent[0]]) @ UPRIGHT.T + np.array([0, 1.5, 0])
    assert np.abs(joints - want).max() < 1e-4


def test_unreadable_sessions_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "empty.npz"
    np.savez(bad, nothing=np.zeros(3))
    assert main(["export-motion", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "no poses" in err and len(err.strip().splitlines()) == 1
    assert main(["export-motion", str(tmp_path / "missing.npz")]) == 2
    assert "cannot read" in capsys.readouterr().err
