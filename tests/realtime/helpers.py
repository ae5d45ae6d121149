"""Shared helpers for realtime tests: recorded estimates, a subscriber thread, offline reference."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import torch
import zmq
from stmocap.engines.base import Engine
from stmocap.models.rotations import axis_angle_to_rotation_6d, rotation_6d_to_matrix
from stmocap.realtime.messages import Message, decode
from stmocap.realtime.protocol_schema import HELLO_PREFIX, TOPICS
from stmocap.realtime.stitching import WindowParams, stitch_offline
from stmocap.realtime.windows import WindowPlan, all_windows, window_frame_indices


def make_estimates(n: int, seed: int = 0, feats_shape: tuple[int, ...] | None = None
                   ) -> dict[str, np.ndarray]:
    """A smooth random-walk pose sequence (root upright, facing the camera) with noisy shape."""
    rng = np.random.default_rng(seed)
    aa = np.cumsum(rng.normal(0, 0.03, (n, 24, 3)), axis=0)
    aa[:, 0, 0] += np.pi
    est = {
        "pose_6d": axis_angle_to_rotation_6d(torch.from_numpy(aa)).numpy().astype(np.float32),
        "betas": rng.normal(0, 0.5, (n, 10)).astype(np.float32),
        "cam": np.column_stack([0.8 + 0.05 * rng.standard_normal(n), 0.02 * rng.standard_normal(n),
                                0.02 * rng.standard_normal(n)]).astype(np.float32),
    }
    if feats_shape is not None:
        est["feats"] = rng.normal(0, 1, (n, *feats_shape)).astype(np.float32)
    return est


def save_estimates(path: Path, est: dict[str, np.ndarray]) -> Path:
    np.savez(path, **est)
    return path


def offline_reference(est: dict[str, np.ndarray], plan: WindowPlan, engine: Engine | None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Windows over the whole recording → temporal model (or pass-through) → offline stitching."""
    n = len(est["pose_6d"])
    windows = {}
    for s in all_windows(n, plan):
        idx = window_frame_indices(s, n, plan)
        if engine is None:
            pose, betas, cam = est["pose_6d"][idx], est["betas"][idx], est["cam"][idx]
        else:
            feed = {"feats": est["feats"][idx][None],
                    "pose_6d": est["pose_6d"][idx].reshape(1, plan.window, -1),
                    "cam": est["cam"][idx][None]}
            out = engine(feed)
            pose, betas, cam = (out["pose_6d_out"][0].numpy(), out["betas"][0].numpy(),
                                out["cam_out"][0].numpy())
        rot = rotation_6d_to_matrix(torch.from_numpy(np.ascontiguousarray(pose))).float()
        windows[s] = WindowParams(rot, torch.from_numpy(np.concatenate([betas, cam], -1)).float())
    rot, lin = stitch_offline(windows, n, plan)
    return rot.numpy(), lin.numpy()


class Subscriber:
    """A SUB socket on a thread, collecting every message until the final stats (or a timeout)."""

    def __init__(self, endpoint: str, topics: tuple[str, ...] = ("pose", "stats"),
                 delay_s: float = 0.0, hwm: int = 1000, timeout_s: float = 60.0,
                 configure=None, hello: bool = True,
                 delay_first: int | None = None) -> None:  # type: ignore[no-untyped-def]
        """``delay_s`` after each message (only the first ``delay_first`` of them if given: a reader
        that stalls, then catches up)."""
        self.messages: list[tuple[str, Message]] = []
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, hwm)
        if configure is not None:
            configure(self.sock)
        self.sock.connect(endpoint)
        for t in topics:
            self.sock.subscribe(t.encode())
        if hello:  # after the topics: once the publisher sees it, they are in place (protocol.md)
            self.sock.subscribe(HELLO_PREFIX + uuid.uuid4().hex.encode())
        self.expected_eos = {t for t in TOPICS if any(t.startswith(p) for p in topics)}
        self.delay_s = delay_s
        self.delay_first = delay_first
        self.timeout_s = timeout_s
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        import time

        deadline = time.monotonic() + self.timeout_s
        ended: set[str] = set()
        while time.monotonic() < deadline:
            if not self.sock.poll(100):
                continue
            frames = self.sock.recv_multipart()
            msg = decode(frames[1:])
            self.messages.append((frames[0].decode(), msg))
            if self.delay_s and (self.delay_first is None or len(self.messages) <= self.delay_first):
                time.sleep(self.delay_s)
            if msg.kind == "eos":
                ended.add(frames[0].decode())
                if ended >= self.expected_eos:
                    break
        self.sock.close(0)

    def join(self, timeout: float = 60.0) -> list[tuple[str, Message]]:
        self.thread.join(timeout)
        return self.messages

    def topic(self, name: str, eos: bool = False) -> list[Message]:
        """Messages received on topic ``name`` (without its end-of-stream marker unless ``eos``)."""
        return [m for t, m in self.messages if t == name and (eos or m.kind != "eos")]
