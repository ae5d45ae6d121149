"""Time HMR2.0's person crop (``crop_people``) on a video-sized frame, per box, on the CPU.

    nice -n 10 python scripts/bench_hmr2.py [--width 1280 --height 720 --calls 20]

The network itself is timed by ``stmocap bench --engines torch,onnxruntime --model hmr2
--preset full`` (docs/benchmarks.md, section "HMR2.0 (full size, CPU)").
"""

from __future__ import annotations

import argparse

import numpy as np
from stmocap.evaluation.timing import time_calls
from stmocap.models.hmr2.preprocess import blur_sigma, box_geometry, crop_people


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--calls", type=int, default=20)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    W, H = args.width, args.height
    cases = {"near person (box 0.9 × frame height)": [W / 2 - 0.3 * H, 0.05 * H, W / 2 + 0.3 * H, 0.95 * H],
             "far person (box 0.4 × frame height)": [W / 2 - 0.12 * H, 0.3 * H, W / 2 + 0.12 * H, 0.7 * H]}
    for name, box in cases.items():
        boxes = np.array([box], np.float32)
        _, size = box_geometry(boxes)
        blurred = blur_sigma(float(size[0])) is not None
        stats = time_calls(lambda boxes=boxes: crop_people(image, boxes), calls=args.calls, warmup=2)
        print(f"{name}: square {size[0]:.0f} px, {'blurred' if blurred else 'no blur'}: {stats.line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
