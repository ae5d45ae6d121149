"""``stmocap fit-taps``: fit the learned smoother (models/temporal/taps.py) on training motions.

Each clip is filmed as ``stmocap eval --closed-loop`` films it (the clip's own scene seed, 3.4 m,
renders cached), the lite per-frame stages run on the video, and the taps are fitted to the raw
per-frame joints against the truth (:func:`stmocap.evaluation.linear_bound.fit_taps`: MPJPE +
λ·ACC-ERR), reading the pipeline's ``--lookahead`` frames ahead (0: causal). Frames where nobody
was detected split a clip into separate runs. The file records the clips, the frame count, λ
and, on those same clips, raw / One-Euro (at the same lookahead) / taps MPJPE and ACC-ERR (the
taps applied exactly as the graph applies them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stmocap.evaluation.metrics import accel_error, mpjpe
from stmocap.models.temporal.taps import Taps
from stmocap.realtime.pipeline import PipelineConfig

from stmocap.validate import NON_NEGATIVE, Range, non_empty

# The training motions of the shipped networks (training/configs/lite_an_data.sh): never the
# held-out walk, kick, dance_a, cmu_01_01_c, nor the validation clip dance_b.
TRAINING_MOTIONS = ("backflip,cartwheel,crawl,getup_facedown,getup_faceup,jump,punch,roll,run,spin,"
                    "spinkick,cmu_01_01_a,cmu_01_01_b,cmu_01_03_a,cmu_01_03_b,cmu_01_03_c,cmu_01_03_d,"
                    "cmu_01_03_e")


@dataclass(frozen=True)
class TapsFitConfig:
    """What ``stmocap fit-taps`` fits."""

    clips: str = field(default=TRAINING_MOTIONS, metadata={"check": non_empty,
        "help": "comma-separated clips (and groups) to fit on (default: the shipped networks' "
                "training motions)"})
    history: int = field(default=15, metadata={"check": Range(0, 120),
        "help": "frames of the past the smoother reads besides the newest (taps = history + 1)"})
    accel_weight: float = field(default=0.6, metadata={"check": NON_NEGATIVE,
        "help": "λ: weight of ACC-ERR against MPJPE in the fit (0: accuracy only; larger: smoother, "
                "more lag)"})
    min_frames: int = field(default=90, metadata={"check": NON_NEGATIVE,
        "help": "cyclic clips are repeated up to at least this many frames (as the closed loop)"})


@dataclass(frozen=True)
class FilmedClip:
    """One clip's per-frame results: ``raw`` and ``one_euro`` params ``{frame: (rotations (24, 3, 3),
    betas (10,))}`` and the truth joints ``(T, 24, 3)``, pelvis-centred, camera frame, metres."""

    name: str
    truth: np.ndarray
    raw: dict[int, tuple[np.ndarray, np.ndarray]]
    one_euro: dict[int, tuple[np.ndarray, np.ndarray]]


def film_clips(cfg: PipelineConfig, fit: TapsFitConfig, cache: Path,
               progress: Callable[[str], None] | None = None) -> list[FilmedClip]:
    """Render (cached), run the per-frame stages and the One-Euro filter on every clip of ``fit``
    (the filter given ``cfg.plan.lookahead`` frames of the future, as ``stmocap eval`` compares)."""
    from stmocap.evaluation.closed_loop import film, temporal_variant
    from stmocap.groundtruth.motions import load_motions, select_clips
    from stmocap.groundtruth.scene import SceneConfig

    motions = load_motions()
    order = list(motions)
    out = []
    for name in select_clips(fit.clips, motions):
        if progress:
            progress(name)
        filmed = film(motions[name].looped(fit.min_frames),
                      replace(SceneConfig(), seed=order.index(name)), cache, cfg)
        gt = np.asarray(filmed.truth["joints3d"], np.float64)
        euro = replace(filmed.cfg, smoothing=replace(filmed.cfg.smoothing, filter="one-euro"))
        # the One-Euro filter at the same lookahead: causal at 0, forward-backward beyond
        euro_variant = "smoothed" if cfg.plan.lookahead else "filtered"
        raw, smoothed = (temporal_variant(filmed.estimates, c, v)
                         for c, v in ((filmed.cfg, "raw"), (euro, euro_variant)))
        out.append(FilmedClip(name, gt - gt[:, :1], {t: v[:2] for t, v in raw.items()},
                              {t: v[:2] for t, v in smoothed.items()}))
    return out


def runs(frames: list[int]) -> list[list[int]]:
    """Consecutive runs of sorted frame indices: ``[0, 1, 2, 5, 6] → [[0, 1, 2], [5, 6]]``."""
    out: list[list[int]] = []
    for t in frames:
        if out and t == out[-1][-1] + 1:
            out[-1].append(t)
        else:
            out.append([t])
    return out


def _joints(body: Any, params: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Pelvis-centred joints ``(n, 24, 3)`` of ``params``, as the closed loop scores them."""
    from stmocap.evaluation.closed_loop import _joints as closed_loop_joints

    return closed_loop_joints(body, np.stack([p[0] for p in params]),
                              np.stack([p[1] for p in params])).double().numpy()


def smooth_run(params: list[tuple[np.ndarray, np.ndarray]], taps: Taps
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``params`` (one run of consecutive frames) through the graph's smoother, frame by frame."""
    from stmocap.realtime.filters import TapsSmoother

    smoother = TapsSmoother(taps)
    out = [y for r, b in params for y in smoother.push(r, b)]
    return out + smoother.flush()


def _segments(clips: list[FilmedClip]) -> list[tuple[list, list, np.ndarray]]:  # type: ignore[type-arg]
    """(raw params, One-Euro params, truth (n, 24, 3)) per run of at least 3 detected frames."""
    out = []
    for c in clips:
        for run in runs(sorted(c.raw)):
            if len(run) >= 3 and all(t in c.one_euro for t in run):
                out.append(([c.raw[t] for t in run], [c.one_euro[t] for t in run], c.truth[run]))
    if not out:
        raise ValueError("no run of 3 or more detected frames")
    return out


def score_clips(clips: list[FilmedClip], taps: Taps, body: Any) -> dict[str, dict[str, float]]:
    """Raw, One-Euro and ``taps`` (applied as the graph applies them) on ``clips``, frame-weighted
    over their runs of at least 3 detected frames: ``{"raw" | "one-euro" | "taps": {"mpjpe",
    "accel", "frames"}}`` (mm, mm/frame²)."""
    totals: dict[str, np.ndarray] = {k: np.zeros(2) for k in ("raw", "one-euro", "taps")}
    frames = 0
    for raw, euro, gt in _segments(clips):
        g = torch.from_numpy(gt)
        for key, params in (("raw", raw), ("one-euro", euro), ("taps", smooth_run(raw, taps))):
            p = torch.from_numpy(_joints(body, params))
            totals[key] += len(gt) * np.array([float(mpjpe(p, g).mean()),
                                               float(accel_error(p, g).mean())])
        frames += len(gt)
    return {k: {"mpjpe": round(float(v[0] / frames), 2), "accel": round(float(v[1] / frames), 2),
                "frames": frames} for k, v in totals.items()}


def fit_clips(clips: list[FilmedClip], fit: TapsFitConfig, body: Any,
              lookahead: int = 0) -> tuple[Taps, dict[str, Any]]:
    """The taps fitted on ``clips`` (their runs of at least 3 detected frames), reading
    ``lookahead`` frames ahead, and the file's metadata, with :func:`score_clips` on those same
    clips."""
    from stmocap.evaluation.linear_bound import fit_taps

    segments = _segments(clips)
    pairs = [(_joints(body, raw), gt) for raw, _, gt in segments]
    taps = Taps(fit_taps(pairs, history=fit.history, lookahead=lookahead,
                         accel_weight=fit.accel_weight), lookahead=lookahead)
    metrics = score_clips(clips, taps, body)
    return taps, {"fitted_on": [c.name for c in clips], "frames": metrics["raw"]["frames"],
                  "runs": len(segments), "accel_weight": fit.accel_weight, "history": fit.history,
                  "metrics_on_fit_clips": {k: {"mpjpe": v["mpjpe"], "accel": v["accel"]}
                                           for k, v in metrics.items()}}
