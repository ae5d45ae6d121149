"""Per-frame tables of network inputs and ground truth, read from two on-disk layouts.

* **VIBE/TCMR preprocessed databases** (``*_db.pt`` written with ``joblib.dump``): a dict of
  arrays concatenated over all videos — ``vid_name``, ``frame_id``, ``joints3D``, ``joints2D``,
  ``pose`` (axis-angle, 72), ``shape`` (10), ``bbox`` (cx, cy, w, h), ``valid``, ``features`` …
* **stmocap feature databases** (``.npz``, see docs/training.md): the same column names, plus the
  per-frame initialisation ``init_pose`` / ``init_cam`` / ``init_shape`` and ``features`` holding
  whatever H the network reads (231 BlazePose values per frame for the lite profile).

Both become a :class:`FrameTable`; its rows are frames, grouped into videos by ``vid_name``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stmocap.models.rotations import axis_angle_to_rotation_6d
from stmocap.models.temporal.mean_params import neutral_mean_params
from stmocap.training.config import DataFormat

from stmocap.optional import require

VIBE_SUFFIXES = (".pt", ".pkl", ".joblib")


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or lacks what a run needs; one line for the user."""


@dataclass(frozen=True)
class FrameTable:
    """Frames of one or more videos, one row each (N rows).

    Attributes:
        vid_name: ``(N,)`` str, the video each frame belongs to (rows of a video are contiguous).
        frame_id: ``(N,)`` int64, the frame's index in its video.
        features: ``(N, *F)`` float32, H: ``(N, C)`` vectors or ``(N, C, S, S)`` maps.
        init_pose_6d: ``(N, J·6)`` float32, per-frame initial pose Θ_init (6D, root first).
        init_cam: ``(N, 3)`` float32, per-frame initial weak-perspective camera ω_init ``[s, tx, ty]``.
        init_betas: ``(N, K)`` float32, per-frame initial shape (zeros when the file has none).
        valid: ``(N,)`` bool, frames with usable ground truth.
        pose_6d: ``(N, J, 6)`` float32 truth pose (root in the camera frame), or None.
        betas: ``(N, K)`` float32 truth shape, or None.
        joints3d: ``(N, K3, 3)`` float32 truth joints in metres (camera frame), or None.
        joints2d: ``(N, K2, 3)`` float32 truth keypoints, crop-normalised ``[-1, 1]`` x, y and a
            confidence, or None.
        mirrored_tail: ``(N, E)`` float32, the features after the 231 BlazePose values (the
            landmark network's embedding, ``embedding_mirrored`` in stmocap files) of the frame
            mirrored left–right, or None; :func:`~stmocap.training.augment.mirror_table` needs it
            when H is wider than the landmarks.
        has_init: False when the file had no initialisation and the mean parameters stand in.
        source: the file the table was read from.
    """

    vid_name: np.ndarray
    frame_id: np.ndarray
    features: np.ndarray
    init_pose_6d: np.ndarray
    init_cam: np.ndarray
    init_betas: np.ndarray
    valid: np.ndarray
    pose_6d: np.ndarray | None = None
    betas: np.ndarray | None = None
    joints3d: np.ndarray | None = None
    joints2d: np.ndarray | None = None
    mirrored_tail: np.ndarray | None = None
    has_init: bool = True
    source: str = ""

    def __len__(self) -> int:
        return len(self.vid_name)

    def videos(self) -> list[tuple[str, int, int]]:
        """``(name, first_row, end_row)`` of each contiguous run of one ``vid_name``."""
        names = self.vid_name
        if len(names) == 0:
            return []
        cuts = np.flatnonzero(names[1:] != names[:-1]) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [len(names)]])
        return [(str(names[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pose_to_6d(pose: np.ndarray, joints: int) -> np.ndarray:
    """``(N, J·3)`` axis-angle or ``(N, J·6)`` 6D → ``(N, J, 6)`` float32."""
    pose = np.array(pose, dtype=np.float32).reshape(len(pose), -1)  # a copy: memory maps are read-only
    if pose.shape[1] == joints * 3:
        return axis_angle_to_rotation_6d(torch.from_numpy(pose).reshape(-1, joints, 3)).numpy()
    if pose.shape[1] == joints * 6:
        return pose.reshape(-1, joints, 6)
    raise DatasetError(f"pose must have {joints * 3} (axis-angle) or {joints * 6} (6D) values per "
                       f"frame, got {pose.shape[1]}")


def normalise_keypoints(kp: np.ndarray, bbox: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Pixel keypoints ``(N, K, 2|3)`` → crop-normalised ``(N, K, 3)`` (x, y in [-1, 1], confidence).

    The crop is the square of side ``scale · max(w, h)`` centred on the box ``(N, 4)`` =
    ``(cx, cy, w, h)``; keypoints without a confidence column get 1.
    """
    kp = np.asarray(kp, dtype=np.float32)
    bbox = np.asarray(bbox, dtype=np.float32)
    half = scale * bbox[:, 2:4].max(axis=1) / 2
    xy = (kp[..., :2] - bbox[:, None, :2]) / np.maximum(half, 1e-6)[:, None, None]
    conf = kp[..., 2:3] if kp.shape[-1] > 2 else np.ones_like(kp[..., :1])
    return np.concatenate([xy, conf], axis=-1).astype(np.float32)


def _column(db: dict[str, Any], key: str, n: int, path: Path) -> np.ndarray | None:
    if key not in db:
        return None
    value = np.asarray(db[key])
    if len(value) != n:
        raise DatasetError(f"{path}: '{key}' has {len(value)} rows, 'vid_name' has {n}")
    return value


def table_from_columns(db: dict[str, Any], path: Path, feature_key: str = "features",
                       joints: int = 24, betas: int = 10, keypoints_normalised: bool = False,
                       bbox_scale: float = 1.0) -> FrameTable:
    """Build a :class:`FrameTable` from a dict of per-frame columns (either layout).

    Args:
        db: columns keyed as in the module docstring.
        feature_key: the column holding H.
        keypoints_normalised: True when ``joints2D`` is already crop-normalised (stmocap files);
            False for pixel keypoints with a ``bbox`` column (VIBE/TCMR).
        bbox_scale: crop side / box side when normalising pixel keypoints.
    """
    if "vid_name" not in db:
        raise DatasetError(f"{path} has no 'vid_name' column (keys: {sorted(db)[:12]})")
    names = np.asarray(db["vid_name"]).astype(str)
    n = len(names)
    col = lambda key: _column(db, key, n, path)  # noqa: E731
    feats = col(feature_key)
    if feats is None:
        raise DatasetError(f"{path} has no '{feature_key}' column for the network's features H")
    frame_id = col("frame_id")
    frame_id = np.arange(n) if frame_id is None else frame_id
    valid = col("valid")
    valid = np.ones(n, bool) if valid is None else valid.reshape(n).astype(bool)
    init_pose, init_cam, init_shape = col("init_pose"), col("init_cam"), col("init_shape")
    has_init = init_pose is not None and init_cam is not None
    mean = neutral_mean_params(joints, betas)
    if init_pose is None:
        init_pose_6d = np.broadcast_to(mean.pose_6d.reshape(1, -1).numpy(), (n, joints * 6))
    else:
        init_pose_6d = _pose_to_6d(init_pose, joints).reshape(n, -1)
    if init_cam is None:
        init_cam = np.broadcast_to(mean.cam.numpy(), (n, 3))
    init_betas = np.zeros((n, betas), np.float32) if init_shape is None else init_shape[:, :betas]
    pose, shape = col("pose"), col("shape")
    j3d, j2d = col("joints3D"), col("joints2D")
    if j2d is not None and not keypoints_normalised:
        bbox = col("bbox")
        if bbox is None:
            raise DatasetError(f"{path}: pixel 'joints2D' need a 'bbox' column to be normalised")
        j2d = normalise_keypoints(j2d, bbox, bbox_scale)
    # Copies (writable, in memory) of the small columns; the features may stay memory-mapped.
    f32 = lambda x: None if x is None else np.array(x, dtype=np.float32, order="C")  # noqa: E731
    return FrameTable(
        vid_name=names, frame_id=np.asarray(frame_id, np.int64).reshape(n),
        features=np.ascontiguousarray(feats, dtype=np.float32),
        init_pose_6d=f32(init_pose_6d), init_cam=f32(init_cam), init_betas=f32(init_betas),
        valid=np.array(valid),
        pose_6d=None if pose is None else _pose_to_6d(pose, joints),
        betas=None if shape is None else f32(shape[:, :betas]),
        joints3d=f32(j3d), joints2d=f32(j2d), mirrored_tail=f32(col("embedding_mirrored")),
        has_init=has_init, source=str(path))


def read_vibe_db(path: Path, feature_key: str = "features", bbox_scale: float = 1.0) -> FrameTable:
    """Read a VIBE/TCMR preprocessed database (a ``joblib.dump`` of a dict of arrays); the features
    of uncompressed files stay memory-mapped."""
    joblib = require("joblib", "train", "VIBE/TCMR databases are joblib files")
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset not found: {path}")
    try:
        # Uncompressed joblib files are memory-mapped: a paper-profile db of CSE maps (800 kB per
        # frame) is read row by row as batches need it, not loaded whole.
        db = joblib.load(path, mmap_mode="r")
    except Exception as exc:  # joblib/pickle raise many types for foreign files
        raise DatasetError(f"{path} is not a joblib database ({type(exc).__name__}: {exc})") from exc
    if not isinstance(db, dict):
        raise DatasetError(f"{path} holds a {type(db).__name__}, not a dict of per-frame arrays")
    return table_from_columns(db, path, feature_key, bbox_scale=bbox_scale)


def read_feature_db(path: Path, feature_key: str = "features") -> FrameTable:
    """Read a stmocap feature database (``.npz``; layout in docs/training.md)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            db = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is not a readable .npz feature database: {exc}") from exc
    return table_from_columns(db, path, feature_key, keypoints_normalised=True)


def read_table(path: Path, fmt: DataFormat = "auto", feature_key: str = "features",
               bbox_scale: float = 1.0) -> FrameTable:
    """Read either layout; ``auto`` goes by suffix (``.npz`` stmocap, ``.pt/.pkl/.joblib`` VIBE)."""
    path = Path(path)
    if fmt == "auto":
        fmt = "stmocap" if path.suffix == ".npz" else "vibe" if path.suffix in VIBE_SUFFIXES else fmt
        if fmt == "auto":
            raise DatasetError(f"cannot tell the layout of {path} from its suffix: use .npz (stmocap) "
                               f"or {', '.join(VIBE_SUFFIXES)} (VIBE/TCMR), or set format")
    if fmt == "stmocap":
        return read_feature_db(path, feature_key)
    return read_vibe_db(path, feature_key, bbox_scale)


def concat_tables(tables: list[FrameTable]) -> FrameTable:
    """Rows of several tables one after the other; video names are prefixed by the file stem
    when more than one table is given, so equal names in different files stay apart.

    Optional truth columns are kept only when every table has them with one shape.
    """
    if len(tables) == 1:
        return tables[0]

    def cat(name: str) -> np.ndarray | None:
        cols = [getattr(t, name) for t in tables]
        if any(c is None for c in cols) or len({c.shape[1:] for c in cols}) != 1:
            return None
        return np.concatenate(cols)

    names = np.concatenate([np.char.add(f"{Path(t.source).stem}/", t.vid_name.astype(str))
                            for t in tables])
    base = tables[0]
    return replace(base, vid_name=names, frame_id=np.concatenate([t.frame_id for t in tables]),
                   features=np.concatenate([t.features for t in tables]),
                   init_pose_6d=np.concatenate([t.init_pose_6d for t in tables]),
                   init_cam=np.concatenate([t.init_cam for t in tables]),
                   init_betas=np.concatenate([t.init_betas for t in tables]),
                   valid=np.concatenate([t.valid for t in tables]), pose_6d=cat("pose_6d"),
                   betas=cat("betas"), joints3d=cat("joints3d"), joints2d=cat("joints2d"),
                   mirrored_tail=cat("mirrored_tail"), has_init=all(t.has_init for t in tables),
                   source=",".join(t.source for t in tables))


def manifest_entry(path: Path, table: FrameTable) -> dict[str, Any]:
    """What a checkpoint records about one data file: path, SHA-256, frames, videos."""
    return {"path": str(Path(path).resolve()), "sha256": sha256_file(Path(path)),
            "frames": len(table), "videos": len(table.videos())}
