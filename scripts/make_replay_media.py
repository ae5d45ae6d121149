"""Write a synthetic test clip and matching per-frame estimates for the replay profile.

    python scripts/make_replay_media.py OUT_DIR [--frames 600] [--size 640x480] [--fps 30]

The video shows a moving pattern (no person); the estimates are a smooth random walk of SMPL poses.
Together they exercise and time the graph without any model (`stmocap run --profile replay`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from stmocap.models.rotations import axis_angle_to_rotation_6d


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--size", default="640x480")
    p.add_argument("--fps", type=float, default=30.0)
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    video = args.out / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), args.fps, (w, h))
    for i in range(args.frames):
        img = np.full((h, w, 3), 40, np.uint8)
        cx = int(w / 2 + w / 3 * np.sin(i / 20))
        cv2.circle(img, (cx, h // 2), h // 6, (60, 180, 255), -1)
        writer.write(img)
    writer.release()
    rng = np.random.default_rng(0)
    aa = np.cumsum(rng.normal(0, 0.02, (args.frames, 24, 3)), axis=0)
    aa[:, 0, 0] += np.pi
    np.savez(args.out / "estimates.npz",
             pose_6d=axis_angle_to_rotation_6d(torch.from_numpy(aa)).numpy().astype(np.float32),
             betas=np.zeros((args.frames, 10), np.float32),
             cam=np.tile([0.9, 0.0, 0.0], (args.frames, 1)).astype(np.float32))
    print(f"wrote {video} and {args.out / 'estimates.npz'}")


if __name__ == "__main__":
    main()
