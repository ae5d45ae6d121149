"""How closely our BlazePose port tracks mediapipe's own video mode on a video, free-running.

    python scripts/tracking_parity.py VIDEO [--mp-python /tmp/mpenv/bin/python]

Runs ``scripts/mediapipe_worker.py`` (mediapipe 0.10.21 in its own environment: video mode,
model complexity 1, smoothing on) and then :class:`~stmocap.models.blazepose.pipeline.BlazePose`
(tracking and smoothing on, ``t = index / fps``) on the same decoded frames, and prints, per frame,
the mean distance between the two hip-centred world landmark sets (33 points, mm): the first
frames, the median, the 90th percentile and the largest. Both run on the CPU; ~1 minute for the
238-frame demo clip.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from stmocap.models.blazepose.pipeline import BlazePose


def ours(video: Path) -> np.ndarray:
    """``(T, 33, 3)`` world landmarks of the port (NaN where nobody was found)."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    pose, out, k = BlazePose(), [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        r = pose(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), t=k / fps)
        out.append(np.full((33, 3), np.nan) if r is None else r.world)
        k += 1
    cap.release()
    return np.array(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--mp-python", default="/tmp/mpenv/bin/python",
                    help="python of mediapipe's own environment (default: /tmp/mpenv/bin/python)")
    args = ap.parse_args(argv)
    if not args.video.is_file():
        raise SystemExit(f"{args.video}: not a file")
    worker = Path(__file__).with_name("mediapipe_worker.py")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mp.npz"
        subprocess.run([args.mp_python, str(worker), str(args.video), str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        with np.load(out) as m:
            theirs = m["world"]
    mine = ours(args.video)
    if len(mine) != len(theirs):
        raise SystemExit(f"frame counts differ: ours {len(mine)}, mediapipe {len(theirs)}")
    d = np.linalg.norm(mine - theirs, axis=-1).mean(axis=1) * 1000
    found = np.isfinite(d)
    print(f"{len(d)} frames, both found a person on {int(found.sum())}")
    print("first frames (mm):", " ".join(f"{v:.2f}" for v in d[:6]))
    print(f"median {np.median(d[found]):.2f} mm, 90th percentile {np.percentile(d[found], 90):.1f} mm, "
          f"max {d[found].max():.1f} mm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
