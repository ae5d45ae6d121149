"""Synthetic motion with truth, written in the two layouts the training readers accept."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import axis_angle_to_matrix, axis_angle_to_rotation_6d
from stmocap.training.kinematics import JointModel, project_weak_perspective

FEATURES = 231


def joint_model() -> JointModel:
    return JointModel(load_body_model(None))


def synthetic_columns(videos: int = 2, frames: int = 24, seed: int = 0,
                      features: int = FEATURES) -> dict[str, np.ndarray]:
    """Per-frame columns of smoothly moving bodies (stmocap layout, 24 SMPL joints).

    Features are a fixed random linear map of the truth joints, so a network can learn from them;
    the initialisation is the truth pose plus noise.
    """
    g = np.random.default_rng(seed)
    jm = joint_model()
    proj = g.normal(size=(72, features)).astype(np.float32) / math.sqrt(72)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "vid_name", "frame_id", "features", "init_pose", "init_cam", "init_shape", "pose", "shape",
        "joints3D", "joints2D", "valid")}
    for v in range(videos):
        t = np.arange(frames, dtype=np.float32)[:, None, None]
        amp = g.uniform(0.05, 0.4, size=(1, 24, 3)).astype(np.float32)
        phase = g.uniform(0, 2 * math.pi, size=(1, 24, 3)).astype(np.float32)
        aa = amp * np.sin(0.15 * t + phase)
        aa[:, 0] = [math.pi, 0.0, 0.0]
        aa[:, 0, 1] = 0.2 * np.sin(0.05 * t[:, 0, 0])
        betas = np.repeat(g.normal(size=(1, 10)).astype(np.float32) * 0.5, frames, 0)
        rot = axis_angle_to_matrix(torch.from_numpy(aa))
        with torch.no_grad():
            j3d = jm(rot, torch.from_numpy(betas))
        cam = np.tile(np.array([0.9, 0.02 * v, -0.01], np.float32), (frames, 1))
        j2d = project_weak_perspective(j3d, torch.from_numpy(cam)).numpy()
        noisy = aa + g.normal(scale=0.05, size=aa.shape).astype(np.float32)
        cols["vid_name"].append(np.array([f"clip{v}"] * frames))
        cols["frame_id"].append(np.arange(frames))
        cols["features"].append(j3d.numpy().reshape(frames, -1) @ proj)
        init = axis_angle_to_rotation_6d(torch.from_numpy(noisy)).numpy()
        cols["init_pose"].append(init.reshape(frames, -1))
        cols["init_cam"].append(cam + g.normal(scale=0.01, size=cam.shape).astype(np.float32))
        cols["init_shape"].append(np.zeros_like(betas))
        cols["pose"].append(aa.reshape(frames, 72))
        cols["shape"].append(betas)
        cols["joints3D"].append(j3d.numpy())
        cols["joints2D"].append(np.concatenate([j2d, np.ones_like(j2d[..., :1])], -1))
        valid = np.ones(frames, bool)
        valid[v % frames] = False  # one invalid frame per video
        cols["valid"].append(valid)
    return {k: np.concatenate(v) for k, v in cols.items()}


def write_feature_db(path: Path, **kwargs: int) -> Path:
    np.savez(path, **synthetic_columns(**kwargs))
    return path


def to_vibe_layout(cols: dict[str, np.ndarray], image_side: float = 1000.0) -> dict[str, np.ndarray]:
    """The same frames as a VIBE/TCMR database: pixel ``joints2D`` with a ``bbox``, ``img_name``,
    ``joints3D`` as 14 zero-padded-free joints is left to the caller (24 kept here)."""
    n = len(cols["vid_name"])
    side = 0.5 * image_side
    bbox = np.tile(np.array([image_side / 2, image_side / 2, side, side], np.float32), (n, 1))
    j2d = cols["joints2D"].copy()
    j2d[..., :2] = j2d[..., :2] * side / 2 + image_side / 2
    out = {k: v for k, v in cols.items() if k not in ("joints2D",)}
    out.update(joints2D=j2d, bbox=bbox, img_name=np.array([f"{v}/{i:05d}.jpg" for v, i in
                                                           zip(cols["vid_name"], cols["frame_id"],
                                                               strict=True)]))
    return out


def write_vibe_db(path: Path, cols: dict[str, np.ndarray]) -> Path:
    import joblib

    joblib.dump(cols, path)
    return path
