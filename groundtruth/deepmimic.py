"""DeepMimic ``humanoid3d`` motion capture → SMPL pose parameters.

The DeepMimic clips shipped in ``pybullet==3.2.7`` (``pybullet_data/data/motions/humanoid3d_*.txt``)
are JSON: ``{"Loop": ..., "Frames": [[dt, root_pos(3), root_quat(4), chest(4), neck(4),
r_hip(4), r_knee(1), r_ankle(4), r_shoulder(4), r_elbow(1), l_hip(4), l_knee(1), l_ankle(4),
l_shoulder(4), l_elbow(1)], ...]}`` — 44 numbers per frame, quaternions ``(w, x, y, z)`` local to
the parent, knees and elbows one angle about their local z. The skeleton (the humanoid URDF in the
same wheel at 1/4 scale) is y up, facing +x, with its right side at +z, arms hanging down at rest.

Retargeting (docs/groundtruth.md): every rotation is re-expressed in SMPL's axes (y up, facing +z,
left at +x) by conjugation with :data:`DM_TO_SMPL`; SMPL joints take the rotation of their
DeepMimic counterpart, the chest's rotation is shared equally by spine1–3, and the arms get a fixed
rest-pose correction (SMPL's arms are horizontal, DeepMimic's hang down). Joints DeepMimic lacks
(collars, wrists, hands, toes, head) stay at rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stmocap.models.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    quaternion_to_matrix,
)
from torch import Tensor

# DeepMimic joints in file order, their parents, and rest offsets from the parent (metres, the
# URDF's joint origins × 0.25, DeepMimic's axes: y up, facing +x, right at +z).
DM_JOINTS = ("root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder",
             "right_elbow", "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow",
             "right_wrist", "left_wrist")
DM_PARENTS = (-1, 0, 1, 0, 3, 4, 1, 6, 0, 8, 9, 1, 11, 7, 12)
DM_OFFSETS = np.array([
    [0, 0, 0], [0, 0.236151, 0], [0, 0.223894, 0],
    [0, 0, 0.084887], [0, -0.421546, 0], [0, -0.40987, 0],
    [-0.02405, 0.2435, 0.18311], [0, -0.274788, 0],
    [0, 0, -0.084887], [0, -0.421546, 0], [0, -0.40987, 0],
    [-0.02405, 0.2435, -0.18311], [0, -0.274788, 0],
    [0, -0.258947, 0], [0, -0.258947, 0],
])
# Which of the 44 numbers hold each rotating joint: (first index, 4 = quaternion | 1 = z angle).
_LAYOUT = {"chest": (8, 4), "neck": (12, 4), "right_hip": (16, 4), "right_knee": (20, 1),
           "right_ankle": (21, 4), "right_shoulder": (25, 4), "right_elbow": (29, 1),
           "left_hip": (30, 4), "left_knee": (34, 1), "left_ankle": (35, 4),
           "left_shoulder": (39, 4), "left_elbow": (43, 1)}
FRAME_SIZE = 44

# DeepMimic axes → SMPL axes: forward +x → +z, right +z → −x, up y → y.
DM_TO_SMPL = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

# SMPL joint ← DeepMimic joint whose world rotation it takes (spine1–3 share the chest's).
SMPL_FROM_DM = {0: "root", 1: "left_hip", 2: "right_hip", 4: "left_knee", 5: "right_knee",
                7: "left_ankle", 8: "right_ankle", 12: "neck", 16: "left_shoulder",
                17: "right_shoulder", 18: "left_elbow", 19: "right_elbow"}
# Bones compared by the retargeting check: (SMPL parent joint, SMPL child joint, DM start, DM end).
CHECKED_BONES = (
    (1, 4, "left_hip", "left_knee"), (4, 7, "left_knee", "left_ankle"),
    (2, 5, "right_hip", "right_knee"), (5, 8, "right_knee", "right_ankle"),
    (16, 18, "left_shoulder", "left_elbow"), (18, 20, "left_elbow", "left_wrist"),
    (17, 19, "right_shoulder", "right_elbow"), (19, 21, "right_elbow", "right_wrist"),
    (0, 12, "root", "neck"),
)


@dataclass(frozen=True)
class DeepMimicClip:
    """One clip: ``root_pos (T, 3)`` metres and ``rotations (T, 15, 4)`` local quaternions
    ``(w, x, y, z)`` per :data:`DM_JOINTS` (wrists: identity), DeepMimic's axes; ``fps``."""

    name: str
    root_pos: np.ndarray
    rotations: np.ndarray
    fps: float
    loop: bool

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])


def parse_frames(frames: np.ndarray, name: str = "", loop: bool = False) -> DeepMimicClip:
    """``frames (T, 44)`` as stored in the files → :class:`DeepMimicClip` (fps from the first dt)."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE or frames.shape[0] < 2:
        raise ValueError(f"{name or 'clip'}: expected (T ≥ 2, {FRAME_SIZE}) frames, got {frames.shape}")
    T = frames.shape[0]
    rot = np.zeros((T, len(DM_JOINTS), 4))
    rot[..., 0] = 1.0
    rot[:, 0] = frames[:, 4:8]
    for joint, (start, size) in _LAYOUT.items():
        j = DM_JOINTS.index(joint)
        if size == 4:
            rot[:, j] = frames[:, start:start + 4]
        else:  # one angle about local z
            half = frames[:, start] / 2
            rot[:, j] = np.stack([np.cos(half), 0 * half, 0 * half, np.sin(half)], 1)
    rot /= np.linalg.norm(rot, axis=-1, keepdims=True)
    dt = float(frames[0, 0])
    if not dt > 0:
        raise ValueError(f"{name or 'clip'}: frame duration must be > 0, got {dt}")
    return DeepMimicClip(name, frames[:, 1:4].copy(), rot, 1.0 / dt, loop)


def load_clip(path: Path) -> DeepMimicClip:
    """Read a ``humanoid3d_*.txt`` file."""
    data = json.loads(Path(path).read_text())
    name = Path(path).stem.removeprefix("humanoid3d_")
    return parse_frames(np.asarray(data["Frames"]), name, data.get("Loop", "none") == "wrap")


def _slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Shortest-arc spherical interpolation of ``(..., 4)`` quaternions, ``t (...,)`` in [0, 1]."""
    dot = (q0 * q1).sum(-1)
    q1 = np.where(dot[..., None] < 0, -q1, q1)
    dot = np.abs(dot).clip(-1, 1)
    theta = np.arccos(dot)
    s = np.sin(theta)
    small = s < 1e-6
    w0 = np.where(small, 1 - t, np.sin((1 - t) * theta) / np.where(small, 1, s))
    w1 = np.where(small, t, np.sin(t * theta) / np.where(small, 1, s))
    q = w0[..., None] * q0 + w1[..., None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def resample(clip: DeepMimicClip, fps: float) -> DeepMimicClip:
    """The clip at ``fps`` over the same duration (linear root, slerp rotations). Durations are
    rounded to whole output frames (DeepMimic stores dt = 0.033332 s, not 1/30), so a 30 fps clip
    keeps all its frames and ends on the source's last frame."""
    duration = (clip.num_frames - 1) / clip.fps
    n = round(duration * fps) + 1
    src = np.minimum(np.arange(n) / fps * clip.fps, clip.num_frames - 1)
    i0 = np.minimum(np.floor(src).astype(int), clip.num_frames - 2)
    t = src - i0
    root = clip.root_pos[i0] * (1 - t[:, None]) + clip.root_pos[i0 + 1] * t[:, None]
    rot = _slerp(clip.rotations[i0], clip.rotations[i0 + 1], np.repeat(t[:, None], len(DM_JOINTS), 1))
    return DeepMimicClip(clip.name, root, rot, fps, clip.loop)


def world_rotations(clip: DeepMimicClip) -> np.ndarray:
    """World rotation matrices ``(T, 15, 3, 3)`` of every DeepMimic joint (DeepMimic's axes)."""
    local = quaternion_to_matrix(torch.from_numpy(clip.rotations)).numpy()
    world = np.empty_like(local)
    for j, p in enumerate(DM_PARENTS):
        world[:, j] = local[:, j] if p < 0 else world[:, p] @ local[:, j]
    return world


def joint_positions(clip: DeepMimicClip) -> np.ndarray:
    """Forward kinematics: joint positions ``(T, 15, 3)`` in metres, DeepMimic's axes."""
    world = world_rotations(clip)
    pos = np.empty((clip.num_frames, len(DM_JOINTS), 3))
    for j, p in enumerate(DM_PARENTS):
        pos[:, j] = clip.root_pos if p < 0 else pos[:, p] + world[:, p] @ DM_OFFSETS[j]
    return pos


def _rest_correction() -> dict[int, np.ndarray]:
    """SMPL-rest → DeepMimic-rest rotation (SMPL axes) for limbs whose rest directions differ:
    SMPL's arms point along ±x, DeepMimic's hang down (−y)."""
    down_left = axis_angle_to_matrix(torch.tensor([0.0, 0.0, -np.pi / 2], dtype=torch.float64)).numpy()
    down_right = axis_angle_to_matrix(torch.tensor([0.0, 0.0, np.pi / 2], dtype=torch.float64)).numpy()
    return {16: down_left, 18: down_left, 20: down_left, 22: down_left,
            17: down_right, 19: down_right, 21: down_right, 23: down_right}


def to_smpl(clip: DeepMimicClip) -> tuple[np.ndarray, np.ndarray]:
    """SMPL parameters of a clip: axis-angle ``poses (T, 24, 3)`` (root first, parents' frames) and
    ``transl (T, 3)`` so the SMPL pelvis follows DeepMimic's root, in SMPL's axes (y up, ground at
    y = 0, the clip's start facing +z)."""
    from stmocap.models.body.synthetic import SMPL_PARENTS

    P = DM_TO_SMPL
    dm_world = np.einsum("ij,tnjk,lk->tnil", P, world_rotations(clip), P)  # P · R · Pᵀ
    T = clip.num_frames
    world = np.tile(np.eye(3), (T, 24, 1, 1))
    for smpl_j, dm_name in SMPL_FROM_DM.items():
        world[:, smpl_j] = dm_world[:, DM_JOINTS.index(dm_name)]
    # Joints DeepMimic lacks follow their parent; spine1–3 each take a third of the chest's turn.
    chest_local = np.einsum("tji,tjk->tik", dm_world[:, 0], dm_world[:, 1])  # Rootᵀ · Chest
    third = axis_angle_to_matrix(matrix_to_axis_angle(torch.from_numpy(chest_local)) / 3).numpy()
    world[:, 3] = world[:, 0] @ third
    world[:, 6] = world[:, 3] @ third
    world[:, 9] = world[:, 6] @ third
    for j in (10, 11, 13, 14, 15):
        world[:, j] = world[:, SMPL_PARENTS[j]]
    # Arms: the DeepMimic shoulder's / elbow's rotation, then the rest-pose correction (wrists and
    # hands are rigid with the forearm in DeepMimic).
    arm_source = {16: "left_shoulder", 18: "left_elbow", 20: "left_elbow", 22: "left_elbow",
                  17: "right_shoulder", 19: "right_elbow", 21: "right_elbow", 23: "right_elbow"}
    for j, fix in _rest_correction().items():
        world[:, j] = dm_world[:, DM_JOINTS.index(arm_source[j])] @ fix
    local = world.copy()
    for j in range(1, 24):
        local[:, j] = np.swapaxes(world[:, SMPL_PARENTS[j]], -1, -2) @ world[:, j]
    poses = matrix_to_axis_angle(torch.from_numpy(local)).numpy()
    transl = clip.root_pos @ P.T
    return poses, transl


def bone_angles(smpl_joints: Tensor | np.ndarray, clip: DeepMimicClip) -> np.ndarray:
    """Angle in degrees ``(T, len(CHECKED_BONES))`` between each checked bone of posed SMPL joints
    ``(T, 24, 3)`` (SMPL axes) and the same bone of the DeepMimic skeleton."""
    sj = np.asarray(smpl_joints, dtype=np.float64)
    dm = joint_positions(clip) @ DM_TO_SMPL.T
    out = np.empty((sj.shape[0], len(CHECKED_BONES)))
    for k, (a, b, da, db) in enumerate(CHECKED_BONES):
        u = sj[:, b] - sj[:, a]
        v = dm[:, DM_JOINTS.index(db)] - dm[:, DM_JOINTS.index(da)]
        cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        out[:, k] = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    return out
