"""Training-data augmentation that keeps inputs and truth exactly consistent.

:func:`mirror_table` is the left–right mirror of every video, as if the camera image were
flipped horizontally: it maps the BlazePose features, the per-frame initialisation and the truth
together, so no re-rendering or re-running of BlazePose is needed. Frames: camera frame (x right,
y down, z forward); mirroring negates x. A rotation R (root: body → camera; other joints: local)
becomes ``M R M`` with ``M = diag(−1, 1, 1)``, and left and right joints swap.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from stmocap.models.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
from stmocap.models.temporal.features import LANDMARKS
from stmocap.training.data import FrameTable

SMPL_MIRROR = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)
"""SMPL joint i of the mirrored body is joint ``SMPL_MIRROR[i]`` of the original (L ↔ R)."""

BLAZEPOSE_MIRROR = (0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, *[j for i in range(11, 33, 2) for j in (i + 1, i)])
"""The same for BlazePose's 33 landmarks (nose; eyes 1–6; ears 7–8; mouth 9–10; 11–32 in L/R pairs)."""

MIRROR_SUFFIX = "|mirrored"


def _mirror_rotations_6d(d6: np.ndarray) -> np.ndarray:
    """``(N, J, 6)`` → the mirrored rotations ``M R M`` of the L/R-swapped joints, 6D."""
    R = rotation_6d_to_matrix(torch.from_numpy(np.ascontiguousarray(d6, np.float32)))
    M = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    return matrix_to_rotation_6d(M @ R[:, list(SMPL_MIRROR)] @ M).numpy()


def _mirror_points(p: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """``(N, K, ≥2)`` points with x first: x negated, left and right swapped."""
    out = np.array(p[:, list(order)], copy=True)
    out[..., 0] *= -1
    return out


def mirror_features(features: np.ndarray) -> np.ndarray:
    """``(N, 231)`` lite features (crop-centred image landmarks x, y, z, visibility ‖ world
    x, y, z) of the horizontally flipped image."""
    n = len(features)
    image = features[:, :LANDMARKS * 4].reshape(n, LANDMARKS, 4)
    world = features[:, LANDMARKS * 4:].reshape(n, LANDMARKS, 3)
    return np.concatenate([_mirror_points(image, BLAZEPOSE_MIRROR).reshape(n, -1),
                           _mirror_points(world, BLAZEPOSE_MIRROR).reshape(n, -1)], axis=1)


def mirror_table(table: FrameTable) -> FrameTable:
    """Every video of ``table`` mirrored left–right (video names get ``|mirrored``).

    Needs the lite profile's vector features and SMPL's 24 joints (the layouts it knows how to
    mirror); β is kept (the body model is left–right symmetric to 2.5 mm). Features after the 231
    landmark values (the landmark embedding) are swapped with ``table.mirrored_tail``, what the
    landmark network saw on the flipped crop.
    """
    J = len(SMPL_MIRROR)
    width = LANDMARKS * 7
    if table.features.ndim != 2 or table.features.shape[1] < width:
        raise ValueError(f"mirroring needs the lite profile's {width} BlazePose features per "
                         f"frame, got {table.features.shape[1:]}")
    extra = table.features.shape[1] - width
    tail = table.mirrored_tail
    if extra and (tail is None or tail.shape[1] != extra):
        raise ValueError(f"mirroring features wider than the {width} landmark values needs their "
                         f"mirrored copy (an 'embedding_mirrored' column of {extra} values, as "
                         f"`stmocap train-data --landmark-embedding` writes); this table has "
                         f"{'none' if tail is None else tail.shape[1]}")
    features = mirror_features(table.features[:, :width])
    if extra:
        features = np.concatenate([features, tail], axis=1)
    if table.init_pose_6d.shape[1] != J * 6:
        raise ValueError(f"mirroring needs {J} SMPL joints, got a pose of {table.init_pose_6d.shape[1]}")
    init = _mirror_rotations_6d(table.init_pose_6d.reshape(-1, J, 6)).reshape(len(table), -1)
    cam = np.array(table.init_cam, copy=True)
    cam[:, 1] *= -1  # [s, tx, ty]: the crop camera's x offset
    truth = {}
    if table.pose_6d is not None:
        truth["pose_6d"] = _mirror_rotations_6d(table.pose_6d)
    for name in ("joints3d", "joints2d"):
        value = getattr(table, name)
        if value is not None:
            truth[name] = _mirror_points(value, SMPL_MIRROR) if value.shape[1] == J else None
    return replace(table, vid_name=np.char.add(table.vid_name.astype(str), MIRROR_SUFFIX),
                   features=features.astype(np.float32),
                   mirrored_tail=np.array(table.features[:, width:]) if extra else None,
                   init_pose_6d=init.astype(np.float32), init_cam=cam, **truth,
                   source=table.source + MIRROR_SUFFIX)
