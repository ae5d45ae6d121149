"""The learned taps for a sweep of λ: fitted on the training motions, scored on three sets.

    STMOCAP_CACHE=/tmp/cache_mp python scripts/taps_sweep.py [--lambdas 0.4,0.5,...] \
        [--lookahead L] > docs/bench/taps/lambda_sweep.txt

Films (closed loop, 3.4 m, renders cached) the training motions (``stmocap fit-taps``'s default
clips), the validation clip dance_b and the held-out clips walk, kick, dance_a, cmu_01_01_c once;
then for each λ fits the taps on the training motions alone and prints, per set, MPJPE / ACC-ERR
of the One-Euro filter (at L > 0 the forward-backward one, at the same lookahead), the taps
reading L frames ahead (applied as the graph applies them) and raw. How the shipped
taps' λ was chosen: docs/benchmarks.md, "Lookahead 0: learned causal taps".
"""

from __future__ import annotations

import argparse

from stmocap.models.body.model import load_body_model
from stmocap.realtime.pipeline import PipelineConfig
from stmocap.realtime.windows import WindowPlan
from stmocap.training.taps import TRAINING_MOTIONS, TapsFitConfig, film_clips, fit_clips, score_clips

from stmocap.cache import cache_root

SETS = {"fit": TRAINING_MOTIONS, "val": "dance_b", "held": "walk,kick,dance_a,cmu_01_01_c"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lambdas", default="0.4,0.5,0.6,0.7,0.8,0.9,1.0,1.2")
    ap.add_argument("--lookahead", type=int, default=0, help="frames the taps read ahead")
    args = ap.parse_args()
    cfg = PipelineConfig(plan=WindowPlan(lookahead=args.lookahead))
    body = load_body_model(None)
    cache = cache_root() / "closed-loop"
    cache.mkdir(parents=True, exist_ok=True)
    films = {k: film_clips(cfg, TapsFitConfig(clips=v), cache) for k, v in SETS.items()}
    for lam in (float(x) for x in args.lambdas.split(",")):
        taps, _ = fit_clips(films["fit"], TapsFitConfig(accel_weight=lam), body, args.lookahead)
        row = [f"λ {lam:g}"]
        for k in SETS:
            m = score_clips(films[k], taps, body)
            row.append(f"{k}: OE {m['one-euro']['mpjpe']:.1f}/{m['one-euro']['accel']:.1f} taps "
                       f"{m['taps']['mpjpe']:.1f}/{m['taps']['accel']:.1f} raw "
                       f"{m['raw']['mpjpe']:.1f}/{m['raw']['accel']:.1f}")
        print(" | ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
