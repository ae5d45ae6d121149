"""Read a ``stmocap listen --record`` session (``.npz``) into per-track motion.

The recorder stacks one row per received pose message, every key as an array with a leading
row axis: the pose arrays (``rotmats (N, 24, 3, 3)``, ``pose_aa (N, 72)``, ``betas (N, 10)``,
``transl (N, 3)``, ``joints3d (N, 24, 3)`` …, camera frame), ``track (N,)``, ``t_capture_ns (N,)``
and the frame number (``frame_index (N,)`` where present, else ``seq (N,)``, which the v2
``listen`` writes as the frame index); meshes are ``vertices`` and ``faces``. Newer recorders add
keys (``pelvis``, ``T_world_cam (N, 4, 4)``, header fields): this reader ignores what it does not
use, so it reads both the current and the incremental recorder's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class SessionError(ValueError):
    """The file is not a readable session (the message says what is missing)."""


@dataclass
class TrackMotion:
    """One person's frames, sorted by frame index (duplicates dropped).

    Attributes:
        track: the track id.
        frames: ``(N,)`` int64 source frame indices.
        rotmats: ``(N, 24, 3, 3)`` SMPL local rotations (joint 0 in the camera frame).
        betas: ``(N, B)`` shape.
        joints3d: ``(N, 24, 3)`` joints in the camera frame (metres) or None.
        transl: ``(N, 3)`` SMPL translation in the camera frame or None.
        T_world_cam: ``(N, 4, 4)`` camera → world per frame (metric placement) or None.
        t_capture_ns: ``(N,)`` capture times or None.
    """

    track: int
    frames: np.ndarray
    rotmats: np.ndarray
    betas: np.ndarray
    joints3d: np.ndarray | None = None
    transl: np.ndarray | None = None
    T_world_cam: np.ndarray | None = None
    t_capture_ns: np.ndarray | None = None


def _rotmats_from_aa(aa: np.ndarray) -> np.ndarray:
    """``(N, 72)`` axis-angle → ``(N, 24, 3, 3)``."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(-1, 24, 3, 3)


def read_session(path: Path) -> dict[int, TrackMotion]:
    """Per-track motion of a recorded session (see the module docstring)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SessionError(f"cannot read {path}: {exc}") from exc
    with data:
        keys = set(data.files)
        if "rotmats" in keys:
            rot = np.asarray(data["rotmats"], np.float64).reshape(-1, 24, 3, 3)
        elif "pose_aa" in keys or "poses" in keys:
            rot = _rotmats_from_aa(np.asarray(data["pose_aa" if "pose_aa" in keys else "poses"],
                                              np.float64).reshape(-1, 72))
        else:
            raise SessionError(f"{path} has no poses (rotmats or pose_aa); keys {sorted(keys)}")
        n = len(rot)
        frame_key = "frame_index" if "frame_index" in keys else "seq" if "seq" in keys else None
        frames = np.asarray(data[frame_key], np.int64).reshape(n) if frame_key else np.arange(n)
        tracks = np.asarray(data["track"], np.int64).reshape(n) if "track" in keys else np.zeros(n, np.int64)

        def opt(name: str, shape: tuple[int, ...]) -> np.ndarray | None:
            if name not in keys:
                return None
            a = np.asarray(data[name])
            return a.reshape(n, *shape) if a.size == n * int(np.prod(shape)) else None

        betas = np.asarray(data["betas"], np.float64).reshape(n, -1) if "betas" in keys else np.zeros((n, 10))
        joints, transl = opt("joints3d", (24, 3)), opt("transl", (3,))
        T, t_cap = opt("T_world_cam", (4, 4)), opt("t_capture_ns", ())
    out = {}
    for track in np.unique(tracks):
        rows = np.nonzero(tracks == track)[0]
        order = rows[np.argsort(frames[rows], kind="stable")]
        _, first = np.unique(frames[order], return_index=True)
        sel = order[first]
        out[int(track)] = TrackMotion(
            track=int(track), frames=frames[sel], rotmats=rot[sel], betas=betas[sel],
            joints3d=None if joints is None else joints[sel].astype(np.float64),
            transl=None if transl is None else transl[sel].astype(np.float64),
            T_world_cam=None if T is None else T[sel].astype(np.float64),
            t_capture_ns=None if t_cap is None else t_cap[sel].astype(np.int64))
    if not out:
        raise SessionError(f"{path} holds no pose rows")
    return out
