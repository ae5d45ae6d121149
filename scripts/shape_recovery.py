"""Does the lite profile recover a person's body shape? β estimated per frame vs the rendered truth.

    python scripts/shape_recovery.py [--clips walk,dance_a,cmu_01_01_c] [--sigma 1] [--ridge 0.1]

Each clip is rendered twice as the closed-loop evaluation films it (its scene seed), once on the
mean body (β = 0) and once on a body of its own shape (``random_betas(seed, sigma)``, what
``stmocap eval --closed-loop --shape-sigma`` renders); the lite per-frame stages (BlazePose → the
closed-form IK, whose bone-length fit gives β; ``--ridge`` is its weight on ‖β‖²) run on both
videos. Printed per video: the true and mean estimated β₀..₂ (β₀: height), the rest skeleton's
height (top to bottom joint, m) of the truth and of the mean estimate, and the mean bone-length
error of that estimate (mm). Renders are cached in ``$STMOCAP_CACHE/closed-loop``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch
from stmocap.evaluation.closed_loop import clip_camera, per_frame_estimates, render_cached
from stmocap.groundtruth.motions import load_motions, select_clips
from stmocap.groundtruth.scene import SceneConfig
from stmocap.groundtruth.shapes import reshaped
from stmocap.models.body.free_body import load_free_body
from stmocap.models.ik.analytic import AnalyticSolver
from stmocap.models.ik.solver import Skeleton

from stmocap.cache import cache_root
from stmocap.cli import build_parser
from stmocap.commands.run import pipeline_config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default="walk,dance_a,cmu_01_01_c")
    ap.add_argument("--sigma", type=float, default=1.0, help="spread of the reshaped bodies' β")
    ap.add_argument("--ridge", type=float, default=0.1,
                    help="the closed-form IK's weight on ‖β‖² (its default: 0.1)")
    args = ap.parse_args()
    # The lite stage builds its solver with the defaults; this script varies the ridge alone.
    defaults = AnalyticSolver.__init__.__defaults__ or ()
    AnalyticSolver.__init__.__defaults__ = (args.ridge, *defaults[1:])
    motions = load_motions()
    order = list(motions)
    cfg = pipeline_config(build_parser().parse_args(["eval", "--closed-loop"]))
    skeleton = Skeleton(load_free_body())
    parents = skeleton.parents

    def rest_joints(betas: np.ndarray) -> np.ndarray:
        """``(24, 3)`` rest joints of ``betas (10,)``."""
        return skeleton.joints(torch.from_numpy(np.asarray(betas, np.float32))[None])[0].numpy()

    cache = cache_root() / "closed-loop"
    cache.mkdir(parents=True, exist_ok=True)
    print("| clip | body | true β₀..₂ | estimated β₀..₂ (mean ± sd over frames) | height true / est. m "
          "| bone-length error mm |\n|---|---|---|---|---|---|")
    for name in select_clips(args.clips, motions):
        seed = order.index(name)
        for sigma in (0.0, args.sigma):
            motion = reshaped(motions[name].looped(90), seed, sigma)
            video, gt = render_cached(motion, replace(SceneConfig(), seed=seed), cache)
            estimates, _ = per_frame_estimates(video, clip_camera(cfg, gt))
            est = np.stack([e.arrays["betas"][0] for e in estimates if len(e.arrays["track_ids"])])
            true_rest, est_rest = rest_joints(motion.betas), rest_joints(est.mean(0))

            def bones(r: np.ndarray) -> np.ndarray:
                return np.linalg.norm(r[1:] - r[parents[1:]], axis=-1)

            def height(r: np.ndarray) -> float:
                return float(r[:, 1].max() - r[:, 1].min())

            def fmt(v: np.ndarray, sign: str = "+") -> str:
                return " ".join(f"{x:{sign}.2f}" for x in v)

            print(f"| {name} | {'mean' if sigma == 0 else f'σ = {sigma:g}'} | {fmt(motion.betas[:3])} "
                  f"| {fmt(est.mean(0)[:3])} ± {fmt(est.std(0)[:3], '')} "
                  f"| {height(true_rest):.3f} / {height(est_rest):.3f} "
                  f"| {1e3 * np.abs(bones(true_rest) - bones(est_rest)).mean():.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
