"""Write the Grace Hopper photo clip (a real person, virtual camera motion) to a video file: the
source of the lite profile's graph benchmarks (docs/benchmarks.md). ``--source demo`` itself is the
rendered motion-capture clip (``stmocap.groundtruth.demo``).

    python scripts/make_demo_clip.py OUT.avi [--frames 300]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
from stmocap.realtime.sources import demo_frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--frames", type=int, default=300)
    args = p.parse_args()
    frames = demo_frames(args.frames)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    print(f"wrote {args.out} ({len(frames)} frames, {w}×{h}, 30 fps)")


if __name__ == "__main__":
    main()
