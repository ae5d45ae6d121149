"""CPU latency of the DensePose-CSE ROI head at full size (random weights): decoder + pooler + head
+ predictor on FPN maps of an 800×1088 network input (a 640×480 frame at short side 800).

    .venv/bin/python scripts/bench_cse_head.py [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from stmocap.models.densepose.config import PRESETS
from stmocap.models.densepose.model import DensePoseHead


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| preset | boxes | median ms | min ms |  ({platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {args.threads} threads)")
    print("|---|---|---|---|")
    for preset in ("R_50_FPN_s1x", "R_101_FPN_DL_soft_s1x"):
        head = DensePoseHead(PRESETS[preset]).eval()
        c = head.cfg
        fpn = {k: torch.randn(1, *c.level_shape(k, c.export_image)) for k in c.in_features}
        for k in (1, 2):
            rois = torch.tensor([[0, 100.0, 50, 420, 780], [0, 500, 100, 900, 700]][:k])
            times = []
            with torch.inference_mode():
                head(fpn, rois)  # warm-up
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    head(fpn, rois)
                    times.append((time.perf_counter() - t) * 1e3)
            times.sort()
            print(f"| {preset} | {k} | {times[len(times) // 2]:.0f} | {times[0]:.0f} |")


if __name__ == "__main__":
    main()
