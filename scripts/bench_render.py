"""Time the ground-truth renderer: ms per frame for a clip at a given size (one process, CPU).

    python scripts/bench_render.py [--clip walk] [--size 640x480] [--frames 90]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from stmocap.groundtruth.motions import load_motions
from stmocap.groundtruth.scene import SceneConfig, render_motion
from stmocap.models.body.model import load_body_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clip", default="walk")
    p.add_argument("--size", default="640x480")
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--no-floor", action="store_true")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    motion = load_motions()[args.clip].looped(args.frames)
    cfg = replace(SceneConfig(), width=w, height=h, floor=not args.no_floor)
    body = load_body_model("free")
    t0 = time.perf_counter()
    stamps = []
    for _ in render_motion(motion, body, cfg):
        stamps.append(time.perf_counter())
    per = np.diff(np.array([t0, *stamps]))
    print(f"{args.clip} {w}x{h} floor={not args.no_floor}: {len(per)} frames, first {1e3 * per[0]:.1f} ms "
          f"(body model for all frames), then median {1e3 * np.median(per[1:]):.1f} ms/frame, "
          f"p95 {1e3 * np.percentile(per[1:], 95):.1f} ms")


if __name__ == "__main__":
    main()
