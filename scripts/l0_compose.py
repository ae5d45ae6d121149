"""Lookahead 0: a lite network followed by the One-Euro filter, against the filter alone.

    python scripts/l0_compose.py CLIPS CHECKPOINTS FILTER_CUTOFFS NET_CUTOFFS
    python scripts/l0_compose.py dance_b runs/an/l0_a1000/best.pt,runs/an/l0_a1700/best.pt \
        0.7,1.0,1.5,2.5,4 1.5,3,6

Each clip is filmed as `stmocap eval --closed-loop` films it (window 16, stride 1, L = 0); prints
MPJPE / PA-MPJPE / ACC-ERR (24 joints, mm, frame-weighted over the clips) for the filter at each
``min_cutoff`` alone, each network alone, and each network then the filter at each
``min_cutoff`` (docs/benchmarks.md, "Lookahead 0 again"). A checkpoint written ``a.pt+b.pt+c.pt``
is an ensemble: the networks' joints averaged, unfiltered.
"""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from stmocap.evaluation.closed_loop import _joints, film, held_frames, stream_params
from stmocap.evaluation.metrics import accel_error, mpjpe, pa_mpjpe
from stmocap.groundtruth.motions import load_motions
from stmocap.groundtruth.scene import SceneConfig
from stmocap.models.body.model import load_body_model
from stmocap.realtime.filters import FilterConfig
from stmocap.realtime.pipeline import PipelineConfig, TemporalConfig
from stmocap.realtime.windows import WindowPlan

from stmocap.cache import cache_root

clips = sys.argv[1].split(",")
ckpts = sys.argv[2].split(",")
motions = load_motions()
order = list(motions)
body = load_body_model(None)
cache = cache_root() / "closed-loop"
base = replace(PipelineConfig(), plan=WindowPlan(window=16, stride=1, lookahead=0))
data = []
for name in clips:  # filmed as `stmocap eval --closed-loop` films them
    clip = film(motions[name].looped(90), SceneConfig(seed=order.index(name)), cache, base)
    data.append((clip.cfg, clip.truth_joints(), clip.estimates))

def streams(temporal, smoothing):
    """Per clip: the output's joints (T, 24, 3) with the frames held over gaps, and which were
    estimated."""
    out = []
    for cfg, g, est in data:
        got = stream_params(est, replace(cfg, temporal=temporal, smoothing=smoothing))
        T = g.shape[0]
        out.append((_joints(body, *held_frames(got, T)), np.array([t in got for t in range(T)])))
    return out


def score(joints):
    tot = {"mpjpe": 0.0, "pa": 0.0, "acc": 0.0}
    n = 0
    for (p, valid), (_cfg, g, _est) in zip(joints, data, strict=True):
        v = torch.from_numpy(valid)
        k = int(valid.sum())
        tot["mpjpe"] += k * float(mpjpe(p[v], g[v]).mean())
        tot["pa"] += k * float(pa_mpjpe(p[v], g[v]).mean())
        tot["acc"] += k * float(accel_error(p, g, v).mean())
        n += k
    return f"{tot['mpjpe'] / n:.1f} / {tot['pa'] / n:.1f} / {tot['acc'] / n:.1f}"


def run(temporal, smoothing):
    return score(streams(temporal, smoothing))


def euro(mc: float) -> FilterConfig:
    return FilterConfig(filter="one-euro", min_cutoff=mc)  # explicit: --filter auto means taps at L = 0


none = TemporalConfig(temporal="none")
for mc in (float(x) for x in sys.argv[3].split(",")):
    print(f"filter mc={mc:g}: {run(none, euro(mc))}", flush=True)
for ck in ckpts:
    if "+" in ck:  # an ensemble: the members' joints averaged, no filter
        members = [streams(TemporalConfig(temporal="net", checkpoint=Path(c)),
                           FilterConfig(filter="none")) for c in ck.split("+")]
        mean = [(sum(m[i][0] for m in members) / len(members), members[0][i][1])
                for i in range(len(data))]
        print(f"{ck} averaged: {score(mean)}", flush=True)
        continue
    t = TemporalConfig(temporal="net", checkpoint=Path(ck))
    print(f"{ck} raw: {run(t, FilterConfig(filter='none'))}", flush=True)
    for mc in (float(x) for x in sys.argv[4].split(",")):
        print(f"{ck} + filter mc={mc:g}: {run(t, euro(mc))}", flush=True)
