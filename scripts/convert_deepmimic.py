"""Convert the DeepMimic humanoid clips in pybullet 3.2.7 into SMPL motions (groundtruth/data/).

    pip download pybullet==3.2.7 --no-deps -d /tmp/pyb      # the wheel; pybullet is not installed
    python scripts/convert_deepmimic.py /tmp/pyb/pybullet-3.2.7-*.whl

Each clip is resampled to 30 fps, retargeted (groundtruth/deepmimic.py) and lifted so its lowest
vertex on the free body over the whole clip touches the ground (y = 0). The raw frames are kept
next to the result so tests can check the retargeting against the source skeleton.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from stmocap.groundtruth.deepmimic import parse_frames, resample, to_smpl
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import axis_angle_to_matrix

OUT = Path(__file__).resolve().parents[1] / "groundtruth" / "data" / "deepmimic_smpl.npz"
PREFIX = "pybullet_data/data/motions/humanoid3d_"
FPS = 30.0


def read_clips(wheel: Path) -> dict[str, dict]:
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(PREFIX) and n.endswith(".txt"))
        if not names:
            raise SystemExit(f"{wheel}: no {PREFIX}*.txt inside; is it the pybullet 3.2.7 wheel?")
        return {n[len(PREFIX):-4]: json.loads(zf.read(n)) for n in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="pybullet-3.2.7-*.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    body = load_body_model("free", dtype=torch.float64)
    arrays: dict[str, np.ndarray] = {}
    for name, data in read_clips(args.wheel).items():
        frames = np.asarray(data["Frames"], dtype=np.float64)
        clip = resample(parse_frames(frames, name, data.get("Loop") == "wrap"), FPS)
        poses, transl = to_smpl(clip)
        with torch.no_grad():
            verts = body(axis_angle_to_matrix(torch.from_numpy(poses)),
                         torch.zeros(len(poses), 10, dtype=torch.float64),
                         torch.from_numpy(transl)).vertices
        transl[:, 1] -= float(verts[..., 1].min())
        arrays[f"{name}/poses"] = poses.astype(np.float32)
        arrays[f"{name}/transl"] = transl.astype(np.float32)
        arrays[f"{name}/fps"] = np.array(FPS)
        arrays[f"{name}/loop"] = np.array(clip.loop)
        arrays[f"{name}/source"] = frames
        print(f"{name:16s} {clip.num_frames:4d} frames at {FPS:g} fps ({len(frames)} source frames)")
    arrays["clips"] = np.array(sorted({k.split("/")[0] for k in arrays}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
