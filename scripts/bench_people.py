"""Lite graph rate with --max-people 1 vs 2 on the rendered two-walker clip (groundtruth/people.py).

For each run: frames/s = distinct published frames over the span of their publish times (graph
start-up excluded), the detect and perframe stages' median ms (stamp differences), pose messages
per frame, and per id: frames published, and how many of the frames where both walkers are visible
it spent on its majority person.

    python scripts/bench_people.py [--frames 60] [--repeats 2]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "realtime"))


def run(video: Path, gt: Path, frames: int, max_people: int) -> dict:
    from helpers import Subscriber  # tests/realtime/helpers.py
    from stmocap.realtime.camera import CameraConfig
    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.pipeline import GraphConfig, PerFrameConfig, PipelineConfig, PublishConfig
    from stmocap.realtime.sources import SourceConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ep = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    sub = Subscriber(ep, ("pose", "stats"), timeout_s=600.0)
    cfg = PipelineConfig(source=SourceConfig(source=str(video)), publish=PublishConfig(endpoint=ep),
                         perframe=PerFrameConfig(max_people=max_people), camera=CameraConfig(intrinsics=gt),
                         graph=GraphConfig(frames=frames, wait_subscribers=1))
    run_graph(cfg)
    sub.join()
    poses = sub.topic("pose")
    publish = {}
    for m in poses:
        publish.setdefault(m.frame_index, m.stamps["publish"])
    t = sorted(publish.values())
    stage = {k: statistics.median((m.stamps[k] - m.stamps[p]) / 1e6 for m in poses)
             for p, k in (("source", "detect"), ("detect", "perframe"))}
    truth = np.load(gt)
    both = (truth["visible"] >= 0.5).all(1)
    pelvis = truth["joints2d"][:, :, 0]
    ids: dict[int, list[int]] = {}
    for m in poses:
        if both[m.frame_index]:
            d = np.linalg.norm(pelvis[m.frame_index] - m.arrays["joints2d"][0], axis=1)
            ids.setdefault(m.track, []).append(int(np.argmin(d)))
    return {"fps": (len(t) - 1) / ((t[-1] - t[0]) / 1e9), "poses_per_frame": len(poses) / len(publish),
            **{f"{k}_ms": v for k, v in stage.items()},
            "ids": {tid: (len(p), max(p.count(0), p.count(1))) for tid, p in sorted(ids.items())},
            "both_visible": int(both.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from stmocap.groundtruth.people import crossing_clip

    video, gt = crossing_clip(frames=args.frames)
    for r in range(args.repeats):
        for n in (1, 2):
            res = run(video, gt, args.frames, n)
            print(f"run {r} max_people {n}: {res['fps']:.1f} frames/s, {res['poses_per_frame']:.2f} "
                  f"poses/frame, detect {res['detect_ms']:.1f} ms, perframe {res['perframe_ms']:.1f} ms, "
                  f"ids (frames both visible, on majority person) {res['ids']} of {res['both_visible']}",
                  flush=True)


if __name__ == "__main__":
    main()
