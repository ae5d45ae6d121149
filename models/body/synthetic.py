"""A procedural body in SMPL's exact file format, for tests and demos without SMPL's files.

SMPL files cannot be downloaded or redistributed here. This builds a stick-figure "tube" body with
SMPL's 24-joint tree, joint names, T-pose layout and array shapes (6,890 vertices, 23×9 pose
correctives, 10 shape directions) and writes it as SMPL's pickle (scipy.sparse ``J_regressor``,
``kintree_table`` with 2³²−1 as the root's parent). It is not a human shape: each bone is a tube of
rings, each joint is the centre of a ring (so the regressor is exact), and shape directions scale,
lengthen and thicken the body.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.sparse
from stmocap.models.body.smpl_file import BodyModelData

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# Rest (T-pose) joint centres in SMPL's frame: metres, y up, facing +z, +x = body's left.
_REST_JOINTS = np.array([
    [0.00, 0.00, 0.00], [0.07, -0.09, 0.00], [-0.07, -0.09, 0.00], [0.00, 0.11, -0.02],
    [0.10, -0.47, 0.00], [-0.10, -0.47, 0.00], [0.00, 0.25, -0.01], [0.09, -0.87, -0.04],
    [-0.09, -0.87, -0.04], [0.00, 0.31, 0.00], [0.11, -0.93, 0.08], [-0.11, -0.93, 0.08],
    [0.00, 0.52, -0.01], [0.07, 0.43, 0.00], [-0.07, 0.43, 0.00], [0.00, 0.62, 0.04],
    [0.18, 0.45, -0.01], [-0.18, 0.45, -0.01], [0.44, 0.45, -0.02], [-0.44, 0.45, -0.02],
    [0.69, 0.45, -0.01], [-0.69, 0.45, -0.01], [0.77, 0.45, -0.01], [-0.77, 0.45, -0.01],
])
_END_LEAF = {10: [0.0, -0.02, 0.08], 11: [0.0, -0.02, 0.08], 15: [0.0, 0.18, 0.0],
             22: [0.08, 0.0, 0.0], 23: [-0.08, 0.0, 0.0]}

NUM_VERTICES = 6890
_SEGMENTS = 16


def _frame(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = d / np.linalg.norm(d)
    helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(d, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(d, u)


def _bones() -> list[tuple[int, np.ndarray, np.ndarray, int]]:
    """(skinning joint, start, end, joint whose centre is the start ring) for every tube."""
    bones = []
    for child in range(1, 24):
        parent = SMPL_PARENTS[child]
        bones.append((parent, _REST_JOINTS[parent], _REST_JOINTS[child], parent))
    for leaf, offset in _END_LEAF.items():
        bones.append((leaf, _REST_JOINTS[leaf], _REST_JOINTS[leaf] + np.array(offset), leaf))
    return bones


def make_synthetic_body(num_betas: int = 10, seed: int = 0) -> BodyModelData:
    """Build the procedural body (deterministic for a given ``seed``)."""
    rng = np.random.default_rng(seed)
    bones = _bones()
    lengths = np.array([np.linalg.norm(e - s) for _, s, e, _ in bones])
    rings_total = (NUM_VERTICES - 24) // _SEGMENTS  # 24 extra vertices: one per joint centre
    rings = np.maximum(2, np.round(lengths / lengths.sum() * rings_total).astype(int))
    rings[np.argmax(rings)] += rings_total - rings.sum()
    verts, weights, faces, joint_rings = [], [], [], {}
    angles = np.linspace(0, 2 * np.pi, _SEGMENTS, endpoint=False)
    for (skin_joint, start, end, start_joint), n in zip(bones, rings, strict=True):
        u, w = _frame(end - start)
        radius = 0.05 if skin_joint in (0, 3, 6, 9) else 0.035
        base = len(verts)
        for r in range(n):
            a = r / (n - 1)
            centre = start + a * (end - start)
            for ang in angles:
                verts.append(centre + radius * (np.cos(ang) * u + np.sin(ang) * w))
                wt = np.zeros(24)
                # Blend towards the parent bone near the start of the tube, like soft skin.
                parent = SMPL_PARENTS[skin_joint]
                mix = 0.5 * max(0.0, 1.0 - a / 0.3) if parent >= 0 else 0.0
                wt[skin_joint] += 1.0 - mix
                if mix:
                    wt[parent] += mix
                weights.append(wt)
        joint_rings.setdefault(start_joint, list(range(base, base + _SEGMENTS)))
        for r in range(n - 1):
            for k in range(_SEGMENTS):
                a0 = base + r * _SEGMENTS + k
                a1 = base + r * _SEGMENTS + (k + 1) % _SEGMENTS
                faces += [[a0, a1, a0 + _SEGMENTS], [a1, a1 + _SEGMENTS, a0 + _SEGMENTS]]
    # Fill up to SMPL's count with the top of the head, then one vertex at each joint centre.
    head_top = _REST_JOINTS[15] + np.array(_END_LEAF[15])
    fill = [(head_top, 15)] * (NUM_VERTICES - 24 - len(verts)) + [
        (_REST_JOINTS[j], j) for j in range(24)]
    for point, j in fill:
        verts.append(point.copy())
        wt = np.zeros(24)
        wt[j] = 1.0
        weights.append(wt)
    v = np.asarray(verts)
    assert v.shape == (NUM_VERTICES, 3)
    regressor = np.zeros((24, NUM_VERTICES))
    for j in range(24):
        ring = joint_rings.get(j)
        if ring is None:
            regressor[j, NUM_VERTICES - 24 + j] = 1.0
        else:
            regressor[j, ring] = 1.0 / len(ring)
    # Shape directions: overall size, leg length, arm length, girth, then small smooth noise.
    shapedirs = np.zeros((NUM_VERTICES, 3, num_betas))
    shapedirs[:, :, 0] = 0.06 * v
    shapedirs[:, 1, 1] = np.where(v[:, 1] < -0.09, 0.04 * (v[:, 1] + 0.09) / 0.84, 0.0)
    shapedirs[:, 0, 2] = np.where(np.abs(v[:, 0]) > 0.18,
                                  0.03 * np.sign(v[:, 0]) * (np.abs(v[:, 0]) - 0.18) / 0.6, 0.0)
    for k in range(3, num_betas):
        shapedirs[:, :, k] = 0.002 * np.sin((k + 1) * v * 3.0 + rng.uniform(0, 2 * np.pi, 3))
    posedirs = rng.normal(0.0, 1e-4, size=(NUM_VERTICES, 3, 207))
    return BodyModelData(
        v_template=v, faces=np.asarray(faces, dtype=np.int64), weights=np.asarray(weights),
        j_regressor=regressor, shapedirs=shapedirs, posedirs=posedirs,
        parents=np.asarray(SMPL_PARENTS, dtype=np.int64), source="synthetic",
    )


def write_smpl_pickle(data: BodyModelData, path: Path) -> Path:
    """Write ``data`` as SMPL's own pickle layout (sparse regressor, uint32 faces)."""
    d = data.as_smpl_dict()
    d["J_regressor"] = scipy.sparse.csc_matrix(d["J_regressor"])
    d["f"] = d["f"].astype(np.uint32)
    d["bs_style"], d["bs_type"] = "lbs", "lrotmin"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(d, fh, protocol=2)
    return path
