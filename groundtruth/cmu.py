"""CMU motion capture (cgspeed BVH conversion) → SMPL pose parameters.

The CMU skeleton (``Hips``, ``LHipJoint``, ``LeftUpLeg``, ``LeftLeg``, ``LeftFoot``, ``LeftToeBase``,
…, ``LowerBack``, ``Spine``, ``Spine1``, ``Neck``, ``Neck1``, ``Head``, ``LeftShoulder``, ``LeftArm``,
``LeftForeArm``, ``LeftHand``, ``LeftFingerBase``, ``LFingers``, ``LThumb``, …) uses SMPL's axes
already: y up, facing +z at rest, its left at +x. Its rest pose is a T-pose with the thighs splayed
about 20° outwards and the collars raised; lengths are in CMU's unit (:data:`CMU_UNIT_M`).
The cgspeed files start with one T-pose frame that is not part of the take (:data:`TPOSE_FRAMES`).

Retargeting (docs/groundtruth.md), like the DeepMimic one (``groundtruth/deepmimic.py``) but with
CMU's skeleton: each SMPL joint takes the world rotation of the CMU joint whose rotation moves the
same bone (:data:`SMPL_FROM_CMU`), times a fixed rest-pose correction: the smallest rotation that
turns SMPL's rest bone direction into CMU's. Every mapped SMPL bone then points exactly where the
CMU bone points and turns about itself as the CMU bone does. The collars keep SMPL's rest
direction and the hands stay rigid with the wrists. Marker glitches (a wrist turning 135° and back
within two frames) are replaced by a temporal median (:func:`despike`). The translation puts the
SMPL hip centre on CMU's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from stmocap.groundtruth.bvh import (
    CMU_UNIT_M,
    BvhMotion,
    Skeleton,
    forward_kinematics,
    local_transforms,
    rest_positions,
)
from stmocap.models.rotations import matrix_to_axis_angle, matrix_to_quaternion, quaternion_to_matrix

TPOSE_FRAMES = 1  # cgspeed's conversion prepends one T-pose frame to every take

# SMPL joint → (CMU joint whose world rotation it takes, CMU joint ending the bone that rotation
# moves, SMPL joint ending the same bone). None: the SMPL joint is a leaf, no correction.
SMPL_FROM_CMU: dict[int, tuple[str, str | None, int | None]] = {
    0: ("Hips", None, None),
    1: ("LeftUpLeg", "LeftLeg", 4), 2: ("RightUpLeg", "RightLeg", 5),
    4: ("LeftLeg", "LeftFoot", 7), 5: ("RightLeg", "RightFoot", 8),
    7: ("LeftFoot", "LeftToeBase", 10), 8: ("RightFoot", "RightToeBase", 11),
    10: ("LeftToeBase", None, None), 11: ("RightToeBase", None, None),
    3: ("LowerBack", "Spine", 6), 6: ("Spine", "Spine1", 9),
    # Spine1's own rotation moves no bone (Neck and the shoulders start where it does); Neck's
    # world rotation (Spine1's included) moves the upper chest up to Neck1.
    9: ("Neck", "Neck1", 12), 12: ("Neck1", "Head", 15), 15: ("Head", None, None),
    # The collars turn as CMU's do but keep SMPL's rest direction: CMU's run from mid-chest 20°
    # up to the shoulders, SMPL's sideways from the top of the chest; aligning them would lift
    # SMPL's shoulders by 6 cm above where they belong.
    13: ("LeftShoulder", None, None), 14: ("RightShoulder", None, None),
    16: ("LeftArm", "LeftForeArm", 18), 17: ("RightArm", "RightForeArm", 19),
    18: ("LeftForeArm", "LeftHand", 20), 19: ("RightForeArm", "RightHand", 21),
    # LeftHand's rotation moves nothing either (zero offsets); LeftFingerBase's moves the hand.
    20: ("LeftFingerBase", "LFingers", 22), 21: ("RightFingerBase", "RFingers", 23),
}
# SMPL joints at the same place as a CMU joint (for the position error): the limbs. CMU's spine,
# neck and head joints sit elsewhere along the trunk than SMPL's, so they are compared by
# direction only (:data:`CHECKED_BONES`).
MATCHED_JOINTS: dict[int, str] = {
    1: "LeftUpLeg", 2: "RightUpLeg", 4: "LeftLeg", 5: "RightLeg", 7: "LeftFoot", 8: "RightFoot",
    10: "LeftToeBase", 11: "RightToeBase", 16: "LeftArm", 17: "RightArm", 18: "LeftForeArm",
    19: "RightForeArm", 20: "LeftHand", 21: "RightHand",
}
# Bones compared by direction: (SMPL start, SMPL end, CMU start, CMU end).
CHECKED_BONES: tuple[tuple[int, int, str, str], ...] = tuple(
    (j, smpl_end, SMPL_FROM_CMU[j][0], cmu_end)
    for j, (_, cmu_end, smpl_end) in SMPL_FROM_CMU.items() if cmu_end is not None and smpl_end is not None)


@dataclass(frozen=True)
class Retargeted:
    """A take on SMPL: ``poses (T, 24, 3)`` axis-angle (root first, parents' frames),
    ``transl (T, 3)`` metres, ``fps``; ``cmu_joints (T, J, 3)``: the CMU skeleton's joints at the
    same frames in metres (CMU's axes = SMPL's), for checks."""

    poses: np.ndarray
    transl: np.ndarray
    fps: float
    cmu_joints: np.ndarray
    replaced: int = 0


def _slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Shortest-arc interpolation of unit quaternions ``(..., 4)``, ``t (...,)`` in [0, 1]."""
    dot = (q0 * q1).sum(-1)
    q1 = np.where(dot[..., None] < 0, -q1, q1)
    theta = np.arccos(np.abs(dot).clip(0.0, 1.0))
    s = np.sin(theta)
    safe = np.where(s < 1e-8, 1.0, s)
    w0 = np.where(s < 1e-8, 1 - t, np.sin((1 - t) * theta) / safe)
    w1 = np.where(s < 1e-8, t, np.sin(t * theta) / safe)
    q = w0[..., None] * q0 + w1[..., None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def resample(local: np.ndarray, root_pos: np.ndarray, fps: float,
             out_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """``local (T, J, 3, 3)`` rotations and ``root_pos (T, 3)`` at ``fps`` → the same take at
    ``out_fps`` (slerped rotations, linear root) over its duration rounded to whole output frames."""
    T = local.shape[0]
    n = round((T - 1) / fps * out_fps) + 1
    src = np.minimum(np.arange(n) / out_fps * fps, T - 1)
    i0 = np.minimum(np.floor(src).astype(int), max(T - 2, 0))
    i1 = np.minimum(i0 + 1, T - 1)
    t = src - i0
    q = matrix_to_quaternion(torch.from_numpy(np.ascontiguousarray(local))).numpy()
    qt = _slerp(q[i0], q[i1], np.repeat(t[:, None], local.shape[1], 1))
    rot = quaternion_to_matrix(torch.from_numpy(qt)).numpy()
    root = root_pos[i0] * (1 - t[:, None]) + root_pos[i1] * t[:, None]
    return rot, root


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation ``(3, 3)`` turning direction ``a (3,)`` into direction ``b (3,)``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-9:
        raise ValueError("opposite rest directions: the correction is ambiguous")
    K = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + K + K @ K / (1 + c)


def rest_corrections(skeleton: Skeleton, smpl_rest: np.ndarray) -> np.ndarray:
    """``(24, 3, 3)``: per SMPL joint, the SMPL-rest → CMU-rest rotation of the bone it moves
    (identity for leaves and unmapped joints). ``smpl_rest (24, 3)``: SMPL's T-pose joints."""
    cmu_rest = rest_positions(skeleton)
    C = np.tile(np.eye(3), (24, 1, 1))
    for j, (driver, cmu_end, smpl_end) in SMPL_FROM_CMU.items():
        if cmu_end is None or smpl_end is None:
            continue
        C[j] = _align(smpl_rest[smpl_end] - smpl_rest[j],
                      cmu_rest[skeleton.index(cmu_end)] - cmu_rest[skeleton.index(driver)])
    return C


def smpl_local_rotations(skeleton: Skeleton, cmu_world: np.ndarray, corrections: np.ndarray) -> np.ndarray:
    """CMU world rotations ``(T, J, 3, 3)`` → SMPL local rotations ``(T, 24, 3, 3)`` (root: body →
    world), by :data:`SMPL_FROM_CMU` and the rest ``corrections (24, 3, 3)``."""
    from stmocap.models.body.synthetic import SMPL_PARENTS

    T = cmu_world.shape[0]
    world = np.empty((T, 24, 3, 3))
    for j in range(24):
        if j in SMPL_FROM_CMU:
            world[:, j] = cmu_world[:, skeleton.index(SMPL_FROM_CMU[j][0])] @ corrections[j]
        else:  # the hands: rigid with their wrists
            world[:, j] = world[:, SMPL_PARENTS[j]]
    local = world.copy()
    for j in range(1, 24):
        local[:, j] = np.swapaxes(world[:, SMPL_PARENTS[j]], -1, -2) @ world[:, j]
    return local


def hip_centre(joints: np.ndarray, left: int, right: int) -> np.ndarray:
    """``(T, 3)``: the mean of two hip joints of ``joints (T, J, 3)``."""
    return 0.5 * (joints[:, left] + joints[:, right])


def retarget(motion: BvhMotion, smpl_rest: np.ndarray,
             joints_of: Callable[[np.ndarray], np.ndarray], fps: float = 30.0,
             skip: int = TPOSE_FRAMES, unit: float = CMU_UNIT_M,
             despike_deg: float | None = 45.0) -> Retargeted:
    """Retarget a CMU take to SMPL at ``fps``.

    ``smpl_rest (24, 3)``: the body's T-pose joints (the corrections are computed on them);
    ``joints_of(rotmats (T, 24, 3, 3)) → (T, 24, 3)``: the body's posed joints with zero
    translation (pelvis-relative, metres). The first ``skip`` frames (cgspeed's T-pose) are
    dropped; ``unit``: metres per file unit. The translation puts the SMPL hip centre on the CMU
    one; the ground is left where the file has it (y = 0 of the capture volume). Glitches in the
    SMPL rotations are removed by :func:`despike` (``despike_deg``; None: kept).
    """
    sk = motion.skeleton
    local, root_pos = local_transforms(motion)
    local, root_pos = local[skip:], root_pos[skip:]
    local, root_pos = resample(local, root_pos, motion.fps, fps)
    cmu_world, cmu_pos = forward_kinematics(sk, local, root_pos)
    cmu_pos = cmu_pos * unit
    rot = smpl_local_rotations(sk, cmu_world, rest_corrections(sk, smpl_rest))
    replaced = 0
    if despike_deg is not None:
        rot, replaced = despike(rot, max_deg=despike_deg)
    joints = np.asarray(joints_of(rot))
    transl = (hip_centre(cmu_pos, sk.index("LeftUpLeg"), sk.index("RightUpLeg"))
              - hip_centre(joints, 1, 2))
    poses = matrix_to_axis_angle(torch.from_numpy(rot)).numpy()
    return Retargeted(poses, transl, fps, cmu_pos, replaced)


def joint_errors(smpl_joints: np.ndarray, cmu_joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """``(T, len(MATCHED_JOINTS))`` distances in metres between posed SMPL joints ``(T, 24, 3)``
    and the CMU joints ``(T, J, 3)`` at the same place (:data:`MATCHED_JOINTS`)."""
    s = smpl_joints[:, list(MATCHED_JOINTS)]
    c = cmu_joints[:, [skeleton.index(n) for n in MATCHED_JOINTS.values()]]
    return np.linalg.norm(s - c, axis=-1)


def bone_angles(smpl_joints: np.ndarray, cmu_joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """``(T, len(CHECKED_BONES))`` angles in degrees between each SMPL bone of posed joints
    ``(T, 24, 3)`` and the CMU bone it follows (CMU joints ``(T, J, 3)``)."""
    out = np.empty((smpl_joints.shape[0], len(CHECKED_BONES)))
    for k, (a, b, ca, cb) in enumerate(CHECKED_BONES):
        u = smpl_joints[:, b] - smpl_joints[:, a]
        v = cmu_joints[:, skeleton.index(cb)] - cmu_joints[:, skeleton.index(ca)]
        cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        out[:, k] = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    return out


def despike(local: np.ndarray, window: int = 3, max_deg: float = 45.0) -> tuple[np.ndarray, int]:
    """Replace glitches in local rotations ``(T, J, 3, 3)``: where a joint's rotation is more than
    ``max_deg`` from the median of its ±``window`` frames (sign-aligned quaternions, component-wise
    median, renormalised), that median replaces it. CMU's takes have such glitches where hand or
    toe markers swap for a frame or two (01_03: the right wrist turns 135° and back within
    two frames). A median over 2·window + 1 frames ignores glitches up to ``window`` frames long.
    Returns the cleaned rotations and how many (frame, joint) values were replaced."""
    T = local.shape[0]
    q = matrix_to_quaternion(torch.from_numpy(np.ascontiguousarray(local))).numpy()  # (T, J, 4)
    for t in range(1, T):  # one sign along time, so medians do not mix q and −q
        flip = (q[t] * q[t - 1]).sum(-1) < 0
        q[t, flip] *= -1
    pad = np.concatenate([q[:1].repeat(window, 0), q, q[-1:].repeat(window, 0)])
    windows = np.stack([pad[k:k + T] for k in range(2 * window + 1)])  # (W, T, J, 4)
    med = np.median(windows, axis=0)
    med /= np.linalg.norm(med, axis=-1, keepdims=True).clip(1e-9)
    angle = np.degrees(2 * np.arccos(np.abs((q * med).sum(-1)).clip(0, 1)))  # (T, J)
    bad = angle > max_deg
    q[bad] = med[bad]
    return quaternion_to_matrix(torch.from_numpy(q)).numpy(), int(bad.sum())
