"""Convert CMU motion-capture takes (cgspeed BVH conversion) into SMPL clips (groundtruth/data/).

    apt-get download assimp-testmodels                      # Debian's package ships two CMU takes
    dpkg-deb -x assimp-testmodels_*.deb /tmp/assimp/x
    python scripts/convert_bvh.py /tmp/assimp/x/usr/share/assimp/models/BVH/01_0[13].bvh

Each take loses cgspeed's leading T-pose frame, is resampled to 30 fps and retargeted
(groundtruth/cmu.py), then moved vertically so the free body's feet stand on the ground (y = 0:
the lower quartile of each frame's lowest vertex over the whole take; a take's floor is one floor,
so a clip spent climbing stays off it, and a few frames dip below it by up to 6 cm). It is cut
into clips of about 8 s (``cmu_<take>_a``, ``_b``, …), each turned about the vertical so it starts
facing +z with its pelvis above the origin, like the DeepMimic clips. The printed errors compare
the SMPL joints with the CMU ones (metres): limb joints by position, bones by direction.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import numpy as np
import torch
from stmocap.groundtruth.bvh import load_bvh
from stmocap.groundtruth.cmu import bone_angles, joint_errors, retarget
from stmocap.models.body.model import BodyModel, load_body_model
from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from stmocap.training.kinematics import JointModel

OUT = Path(__file__).resolve().parents[1] / "groundtruth" / "data" / "cmu_smpl.npz"
FPS = 30.0
CLIP_SECONDS = 8.0  # clips come out 6–12 s: a take is cut into round(duration / 8 s) equal parts
# The floor: this percentile of the frames' lowest vertex. Standing frames put the free body's
# soles 6 cm above CMU's floor; a few frames per take dip to that floor (landings, toe-marker
# glitches), so the take's minimum would leave the body hovering. The lower quartile is where
# the feet stand (both takes: about half the frames within 1 cm of it).
FLOOR_PERCENTILE = 25.0


def lowest_vertices(body: BodyModel, poses: np.ndarray, transl: np.ndarray,
                    chunk: int = 128) -> np.ndarray:
    """``(T,)``: each frame's lowest vertex height (metres) of the body at ``poses (T, 24, 3)``,
    ``transl (T, 3)``."""
    low = []
    with torch.no_grad():
        for s in range(0, len(poses), chunk):
            p = torch.from_numpy(poses[s:s + chunk]).float()
            out = body(axis_angle_to_matrix(p), torch.zeros(len(p), 10),
                       torch.from_numpy(transl[s:s + chunk]).float())
            low.append(out.vertices[..., 1].amin(-1).numpy())
    return np.concatenate(low)


def face_forward(poses: np.ndarray, transl: np.ndarray,
                 source: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn a clip about +y so its first frame faces +z and shift it so its first pelvis is above
    the origin (free body: pelvis at the body origin, so the world turn applies to ``transl``);
    ``source (T, J, 3)`` joints move with it."""
    R0 = axis_angle_to_matrix(torch.from_numpy(poses[0, 0])).numpy()
    yaw = float(np.arctan2(R0[0, 2], R0[2, 2]))
    c, s = np.cos(-yaw), np.sin(-yaw)
    G = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    poses = poses.copy()
    root = G @ axis_angle_to_matrix(torch.from_numpy(poses[:, 0])).numpy()
    poses[:, 0] = matrix_to_axis_angle(torch.from_numpy(root)).numpy()
    shift = np.array([transl[0, 0], 0.0, transl[0, 2]]) @ G.T
    return poses, transl @ G.T - shift, source @ G.T - shift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bvh", type=Path, nargs="+", help="CMU takes, e.g. 01_01.bvh (cgspeed conversion)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    body = load_body_model("free")
    joint_model = JointModel(load_body_model("free", dtype=torch.float64))
    rest = joint_model.j_template.numpy()

    def joints_of(rot: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            r = torch.from_numpy(rot)
            return joint_model(r, torch.zeros(len(r), 10, dtype=torch.float64)).numpy()

    arrays: dict[str, np.ndarray] = {}
    names: list[str] = []
    for path in args.bvh:
        take = load_bvh(path)
        r = retarget(take, rest, joints_of, FPS)
        transl = r.transl.copy()
        transl[:, 1] -= np.percentile(lowest_vertices(body, r.poses, transl), FLOOR_PERCENTILE)
        cmu = r.cmu_joints.copy()
        cmu[..., 1] -= r.transl[:, 1:2] - transl[:, 1:2]
        smpl = joints_of(axis_angle_to_matrix(torch.from_numpy(r.poses)).numpy()) + transl[:, None]
        err = joint_errors(smpl, cmu, take.skeleton)
        ang = bone_angles(smpl, cmu, take.skeleton)
        T = len(r.poses)
        print(f"{path.name}: {take.num_frames} frames at {take.fps:.1f} fps → {T} at {FPS:g}; "
              f"limb joint error mean {err.mean() * 1e3:.0f} mm (legs {err[:, :8].mean() * 1e3:.0f}, "
              f"arms {err[:, 8:].mean() * 1e3:.0f}), bone angle median {np.median(ang):.1e}° "
              f"max {ang.max():.0f}° (despiked values: {r.replaced})")
        parts = max(1, round(T / FPS / CLIP_SECONDS))
        bounds = np.linspace(0, T, parts + 1).round().astype(int)
        for k in range(parts):
            name = f"cmu_{path.stem}_{string.ascii_lowercase[k]}"
            sl = slice(bounds[k], bounds[k + 1])
            poses, tr, _ = face_forward(r.poses[sl], transl[sl], cmu[sl])
            arrays[f"{name}/poses"] = poses.astype(np.float32)
            arrays[f"{name}/transl"] = tr.astype(np.float32)
            arrays[f"{name}/fps"] = np.array(FPS)
            arrays[f"{name}/loop"] = np.array(False)
            names.append(name)
            print(f"  {name:14s} {len(poses):4d} frames ({len(poses) / FPS:.1f} s)")
    arrays["clips"] = np.array(names)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
