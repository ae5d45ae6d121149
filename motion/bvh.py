"""SMPL motion → BVH (one file per track) and a plain per-track ``.npz``, in a y-up world frame.

Skeleton: SMPL's 24 joints and tree (names as ``models.body.synthetic.SMPL_JOINT_NAMES``), the
rest pose the body model's T-pose at the track's mean β (the built-in free body by default):
each joint's ``OFFSET`` is its rest position minus its parent's, in SMPL's body frame (metres,
y up, facing +z, +x the body's left); the root's ``OFFSET`` is 0 and its position channels carry
the pelvis. Leaves (feet, head, hands) get an ``End Site`` a few centimetres on.

Channels: the root ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, every other
joint ``Zrotation Xrotation Yrotation``: Euler angles in degrees, **intrinsic Z, then X, then Y**
(``R_local = Rz(z) · Rx(x) · Ry(y)``, the order most BVH readers, Blender's included, assume), the
same local rotation SMPL applies (``R_world_j = R_world_parent · R_local_j``, position
``p_j = p_parent + R_world_parent · OFFSET_j``).

A BVH has one skeleton per file, so a track whose β changes from frame to frame (a live fit's
does a little) is written with the mean β: bvhio's forward kinematics then match our body model's
at that β with the recorded rotations and pelvis to < 1 mm (tested), and differ from the published
``joints3d`` by the bone-length changes (on the live demo, β std 0.37: up to 13 cm at the hands;
with a constant β they match the published joints to < 1 mm, tested).

World frame (metres): y up, floor at y = 0. Each frame's ``T_world_cam`` when the recording has
it (metric camera placement), else the camera turned upright (``diag(-1, -1, 1)``: x = the camera's
left, y up, z forward) and lifted so that the take's lowest joint is at y = 0. The root rotation
is that frame's camera → world rotation times SMPL's global orientation (camera frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from stmocap.motion.session import TrackMotion

UPRIGHT = np.diag([-1.0, -1.0, 1.0])
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
# End Site offsets of the leaves (SMPL body frame, metres).
END_SITES = {10: (0.0, -0.02, 0.08), 11: (0.0, -0.02, 0.08), 15: (0.0, 0.15, 0.0),
             22: (0.08, 0.0, 0.0), 23: (-0.08, 0.0, 0.0)}
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")


@dataclass
class WorldMotion:
    """One track in the world frame, ready to write.

    Attributes:
        rest_joints: ``(24, 3)`` T-pose joints at the track's β (body frame).
        local: ``(N, 24, 3, 3)`` local rotations, joint 0 = body → world.
        root: ``(N, 3)`` pelvis positions (world).
        fps: frame rate.
        frames: ``(N,)`` source frame indices.
    """

    rest_joints: np.ndarray
    local: np.ndarray
    root: np.ndarray
    fps: float
    frames: np.ndarray

    def joints(self) -> np.ndarray:
        """``(N, 24, 3)`` world joint positions by forward kinematics over the BVH skeleton."""
        N = len(self.local)
        world_r = np.zeros((N, 24, 3, 3))
        pos = np.zeros((N, 24, 3))
        offsets = offsets_of(self.rest_joints)
        for j, p in enumerate(SMPL_PARENTS):
            if p < 0:
                world_r[:, j], pos[:, j] = self.local[:, j], self.root
            else:
                world_r[:, j] = world_r[:, p] @ self.local[:, j]
                pos[:, j] = pos[:, p] + (world_r[:, p] @ offsets[j])
        return pos


def offsets_of(rest_joints: np.ndarray) -> np.ndarray:
    """``(24, 3)`` BVH OFFSETs: rest position minus the parent's (the root's is 0)."""
    off = np.zeros_like(rest_joints)
    for j, p in enumerate(SMPL_PARENTS):
        if p >= 0:
            off[j] = rest_joints[j] - rest_joints[p]
    return off


def rest_joints_of(body: object, betas: np.ndarray) -> np.ndarray:
    """``(24, 3)`` T-pose joints of ``body`` (an :class:`~stmocap.models.body.model.BodyModel`) at
    ``betas (B,)``, body frame (no translation)."""
    import torch

    eye = torch.eye(3).expand(1, 24, 3, 3)
    b = torch.as_tensor(np.asarray(betas, np.float32)[None])
    with torch.inference_mode():
        out = body(eye, b)  # type: ignore[operator]
    return out.joints[0].numpy().astype(np.float64)


def to_world(motion: TrackMotion, rest_joints: np.ndarray, fps: float) -> WorldMotion:
    """A recorded track in the world frame of the module docstring."""
    n = len(motion.frames)
    if motion.joints3d is not None:
        pelvis_cam = motion.joints3d[:, 0]
    elif motion.transl is not None:
        pelvis_cam = rest_joints[0] + motion.transl  # SMPL: the root turns about J0(β)
    else:
        raise ValueError(f"track {motion.track} has neither joints3d nor transl")
    if motion.T_world_cam is not None:
        R, t = motion.T_world_cam[:, :3, :3], motion.T_world_cam[:, :3, 3]
    else:
        R = np.broadcast_to(UPRIGHT, (n, 3, 3))
        low = (motion.joints3d @ UPRIGHT.T)[..., 1].min() if motion.joints3d is not None \
            else (pelvis_cam @ UPRIGHT.T)[:, 1].min() - 0.9
        t = np.broadcast_to(np.array([0.0, -low, 0.0]), (n, 3))
    local = motion.rotmats.copy()
    local[:, 0] = R @ motion.rotmats[:, 0]
    root = (R @ pelvis_cam[..., None])[..., 0] + t
    return WorldMotion(rest_joints=rest_joints, local=local, root=root, fps=fps, frames=motion.frames)


def _euler_zxy(R: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` → ``(..., 3)`` degrees (z, x, y), intrinsic: ``R = Rz · Rx · Ry``."""
    from scipy.spatial.transform import Rotation

    flat = R.reshape(-1, 3, 3)
    return Rotation.from_matrix(flat).as_euler("ZXY", degrees=True).reshape(*R.shape[:-2], 3)


def write_bvh(path: Path, motion: WorldMotion) -> None:
    """Write ``motion`` as BVH (see the module docstring for skeleton, channels and frame)."""
    from stmocap.models.body.synthetic import SMPL_JOINT_NAMES

    offsets = offsets_of(motion.rest_joints)
    children: dict[int, list[int]] = {j: [] for j in range(24)}
    for j, p in enumerate(SMPL_PARENTS):
        if p >= 0:
            children[p].append(j)
    lines: list[str] = ["HIERARCHY"]

    def fmt(v: np.ndarray | tuple[float, ...]) -> str:
        return " ".join(f"{float(x):.6f}" for x in v)

    def joint(j: int, depth: int) -> None:
        pad = "  " * depth
        head = "ROOT" if SMPL_PARENTS[j] < 0 else "JOINT"
        lines.append(f"{pad}{head} {SMPL_JOINT_NAMES[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {fmt(offsets[j])}")
        chans = ROOT_CHANNELS if SMPL_PARENTS[j] < 0 else JOINT_CHANNELS
        lines.append(f"{pad}  CHANNELS {len(chans)} {' '.join(chans)}")
        for c in children[j]:
            joint(c, depth + 1)
        if not children[j]:
            lines.extend([f"{pad}  End Site", f"{pad}  {{",
                          f"{pad}    OFFSET {fmt(END_SITES.get(j, (0.0, 0.05, 0.0)))}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    joint(0, 0)
    euler = _euler_zxy(motion.local)  # (N, 24, 3)
    order = _dfs_order(children)
    lines += ["MOTION", f"Frames: {len(motion.local)}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    for i in range(len(motion.local)):
        values = [fmt(motion.root[i])]
        values += [fmt(euler[i, j]) for j in order]
        lines.append(" ".join(values))
    Path(path).write_text("\n".join(lines) + "\n")


def _dfs_order(children: dict[int, list[int]]) -> list[int]:
    """Joints in the order the hierarchy lists them (their channels' order in MOTION lines)."""
    out: list[int] = []

    def visit(j: int) -> None:
        out.append(j)
        for c in children[j]:
            visit(c)

    visit(0)
    return out


def write_npz(path: Path, motion: WorldMotion) -> None:
    """The same motion as arrays: ``frames (N,)``, ``local_rotmats (N, 24, 3, 3)``, ``root (N, 3)``
    and ``joints (N, 24, 3)`` (world), ``rest_joints (24, 3)``, ``parents (24,)``, ``fps``."""
    np.savez(path, frames=motion.frames, local_rotmats=motion.local.astype(np.float32),
             root=motion.root.astype(np.float32), joints=motion.joints().astype(np.float32),
             rest_joints=motion.rest_joints.astype(np.float32),
             parents=np.array(SMPL_PARENTS, np.int64), fps=np.float64(motion.fps))
