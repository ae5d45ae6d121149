"""CPU latency of the DensePose-CSE person detector (random weights), stage by stage.

    .venv/bin/python scripts/bench_detector.py --threads 2 --sizes 800 480 --repeats 5

One 640×480 RGB frame (skimage's astronaut, resized); per preset and shortest edge: one warm-up,
then the median of ``--repeats`` runs of preprocess, backbone (ResNet-FPN), RPN (head + top-k + NMS),
box head (pooler + fc + NMS) and the whole ``PersonDetector.__call__``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
import torch
from skimage.data import astronaut
from stmocap.models.detectron.config import PRESETS
from stmocap.models.detectron.detector import PersonDetector


def bench(preset: str, short: int, frame: np.ndarray, repeats: int, resize: str) -> dict[str, float]:
    torch.manual_seed(0)
    det = PersonDetector(PRESETS[preset].with_input_size(short), resize=resize)  # type: ignore[arg-type]
    times: dict[str, list[float]] = {k: [] for k in ("preprocess", "backbone", "rpn", "box head", "total")}
    with torch.no_grad():
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            pre = det.preprocess(frame)
            t1 = time.perf_counter()
            feats = det.model.backbone(pre.tensor)
            t2 = time.perf_counter()
            rpn = det.model.proposal_generator(feats, [pre.image_size])
            t3 = time.perf_counter()
            det.model.roi_heads(feats, rpn.proposals, [pre.image_size])
            t4 = time.perf_counter()
            det(frame)
            t5 = time.perf_counter()
            if i == 0:
                continue  # warm-up
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                times[k].append(v * 1e3)
    return {k: statistics.median(v) for k, v in times.items()} | {"input": pre.tensor.shape[-2:]}  # type: ignore[dict-item]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--presets", nargs="+", default=["R_50_FPN", "R_101_FPN"])
    p.add_argument("--sizes", nargs="+", type=int, default=[800, 480])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--resize", default="pil", choices=["pil", "cv2"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    frame = cv2.resize(astronaut(), (640, 480), interpolation=cv2.INTER_AREA)
    print("| preset | short side | padded input | preprocess ms | backbone ms | RPN ms | box head ms | "
          "total ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for preset in a.presets:
        for short in a.sizes:
            r = bench(preset, short, frame, a.repeats, a.resize)
            h, w = r["input"]  # type: ignore[misc]
            print(f"| {preset} | {short} | {h}×{w} | {r['preprocess']:.1f} | {r['backbone']:.0f} | "
                  f"{r['rpn']:.0f} | {r['box head']:.0f} | {r['total']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
