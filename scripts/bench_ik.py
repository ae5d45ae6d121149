"""Time one warm-started IK solve on the free body (what the lite profile does per frame).

    python scripts/bench_ik.py [--iterations 5] [--threads 1] [--calls 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from stmocap.models.body.free_body import load_free_body
from stmocap.models.ik.solver import IKConfig, IKSolver
from stmocap.models.rotations import axis_angle_to_matrix


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calls", type=int, default=60)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    solver = IKSolver(load_free_body(), IKConfig(iterations=args.iterations))
    g = torch.Generator().manual_seed(0)
    pose = axis_angle_to_matrix(torch.randn(1, 24, 3, generator=g) * 0.3)
    targets = solver._pose_joints(pose, torch.zeros(1, 10)) + 0.01 * torch.randn(1, 24, 3, generator=g)
    weights = torch.ones(1, 24)
    warm = solver(targets, weights, iterations=30)
    times = []
    for _ in range(args.calls):
        t = time.perf_counter()
        solver(targets, weights, init=warm)
        times.append(time.perf_counter() - t)
    print(f"warm IK solve, {args.iterations} L-BFGS iterations, {args.threads} thread(s): median "
          f"{1e3 * np.median(times):.2f} ms, p95 {1e3 * np.percentile(times, 95):.2f} ms over {args.calls}")


if __name__ == "__main__":
    main()
