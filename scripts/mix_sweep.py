"""The network / taps mix for a sweep of the network's share, mixed in joint space.

    STMOCAP_CACHE=/tmp/cache_mp python scripts/mix_sweep.py L CLIPS [AZIMUTH]
    STMOCAP_CACHE=/tmp/cache_mp python scripts/mix_sweep.py 2 walk,kick,dance_a,cmu_01_01_c 150

Films each clip as `stmocap eval --closed-loop` does (its scene seed, 3.4 m, renders cached;
AZIMUTH overrides the camera angle), runs the shipped lite network for lookahead L alone and the
shipped taps for L alone on the same per-frame estimates, then mixes the two outputs' *joints*
(not their rotations, as the graph does) with the network's share 0 … 1 and prints MPJPE /
ACC-ERR, frame-weighted over the clips. The sweep recorded in docs/benchmarks.md, "The shipped
networks mixed with taps": it was looked at before the graph's weight (0.5) was fixed.
"""

import sys
from dataclasses import replace

import numpy as np
import torch
from stmocap.evaluation.closed_loop import _joints, film, held_frames, stream_params
from stmocap.evaluation.metrics import accel_error, mpjpe
from stmocap.groundtruth.motions import load_motions
from stmocap.groundtruth.scene import SceneConfig
from stmocap.models.body.model import load_body_model
from stmocap.models.temporal.shipped import shipped_checkpoint
from stmocap.models.temporal.taps import shipped_taps
from stmocap.realtime.filters import FilterConfig
from stmocap.realtime.pipeline import PipelineConfig, TemporalConfig
from stmocap.realtime.windows import WindowPlan

from stmocap.cache import cache_root

L, clips = int(sys.argv[1]), sys.argv[2].split(",")
azimuth = float(sys.argv[3]) if len(sys.argv) > 3 else None
net = TemporalConfig(temporal="net", checkpoint=shipped_checkpoint(L))
taps = FilterConfig(filter="taps", taps=shipped_taps(L))
motions = load_motions()
order = list(motions)
body = load_body_model(None)
base = replace(PipelineConfig(), plan=WindowPlan(window=16, stride=1, lookahead=L), temporal=net)
rows = []
for name in clips:
    scene = SceneConfig(seed=order.index(name))
    if azimuth is not None:
        scene = replace(scene, azimuth=azimuth)
    clip = film(motions[name].looped(90), scene, cache_root() / "closed-loop", base)
    gt = clip.truth_joints()
    T = gt.shape[0]
    alone = stream_params(clip.estimates, replace(clip.cfg, smoothing=FilterConfig(filter="none")))
    smoothed = stream_params(clip.estimates, replace(clip.cfg, temporal=TemporalConfig(temporal="none"),
                                                     smoothing=taps))
    valid = np.array([t in alone for t in range(T)])
    rows.append((gt, valid, _joints(body, *held_frames(alone, T)), _joints(body, *held_frames(smoothed, T))))
for share in (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0):
    total, frames = np.zeros(2), 0
    for gt, valid, j_net, j_taps in rows:
        p = share * j_net + (1 - share) * j_taps
        v = torch.from_numpy(valid)
        k = int(valid.sum())
        total += k * np.array([float(mpjpe(p[v], gt[v]).mean()), float(accel_error(p, gt, v).mean())])
        frames += k
    print(f"L = {L}, {','.join(clips)}, network's share {share:g}: "
          f"{total[0] / frames:.1f} / {total[1] / frames:.1f}", flush=True)
