"""How far can any causal smoother get at lookahead 0? Accuracy against smoothness on the closed loop.

    python scripts/causal_frontier.py [--clips walk,kick,dance_a,cmu_01_01_c] [--checkpoint CKPT]
        [--oracle [--fit-on CLIPS]] [--out DIR]

At L = 0 the issue asks for one output that is at once as accurate as the raw per-frame estimates
(MPJPE not worse) and smoother than the causal One-Euro filter (lower ACC-ERR). This script films
the held-out clips as ``stmocap eval --closed-loop`` does (3.4 m, the clip's scene seed, renders
cached in ``$STMOCAP_CACHE/closed-loop``), runs the lite per-frame stages once, and scores on the
same estimates:

* ``raw`` and ``one-euro`` (the graph's causal filter at its defaults: what is published today);
* three families of causal linear smoothers on the 6D joint rotations and β, each over a grid:
  exponential (``ema α``), Holt's level + trend (``holt α/β``, no lag on a constant velocity) and
  an end-point line fit over the last N frames (``line N``, also lag-free on a constant velocity);
* with ``--checkpoint``, a learned lookahead-0 network (``stmocap train``, ``lookahead = 0``);
* with ``--oracle``, the best linear smoothers of the raw joints over a 16-frame window, fitted to
  these clips' own truth (``stmocap.evaluation.linear_bound``) for a sweep of the weight λ of
  ACC-ERR against MPJPE: what no linear smoother of these estimates can beat, at L = 0 and, for
  comparison, with the 2 and 7 frames of lookahead the shipped networks have.

Printed (and written to ``DIR/causal_frontier.md`` with ``--out``): MPJPE / PA-MPJPE / ACC-ERR
(24 joints, mm, frame-weighted over the clips) per method, whether the point is on the Pareto
front of (MPJPE, ACC-ERR), and the best MPJPE among the methods at least as smooth as One-Euro.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from stmocap.evaluation.closed_loop import _joints, temporal_variant
from stmocap.evaluation.closed_loop import film as film_clip
from stmocap.evaluation.linear_bound import apply_taps, fit_taps
from stmocap.evaluation.metrics import accel_error, mpjpe, pa_mpjpe
from stmocap.groundtruth.motions import load_motions, select_clips
from stmocap.groundtruth.scene import SceneConfig
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
from stmocap.realtime.filters import FilterConfig
from stmocap.realtime.pipeline import PipelineConfig

from stmocap.cache import cache_root

Series = np.ndarray  # (T, D) one value per frame


def ema(x: Series, alpha: float) -> Series:
    """Causal exponential smoothing of ``(T, D)``."""
    y = np.empty_like(x)
    y[0] = x[0]
    for t in range(1, len(x)):
        y[t] = alpha * x[t] + (1 - alpha) * y[t - 1]
    return y


def holt(x: Series, alpha: float, beta: float) -> Series:
    """Holt's linear (level + trend) smoothing of ``(T, D)``, causal; the level is the output."""
    y = np.empty_like(x)
    level, trend = x[0].copy(), np.zeros_like(x[0])
    y[0] = level
    for t in range(1, len(x)):
        previous = level
        level = alpha * x[t] + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
        y[t] = level
    return y


def line_end(x: Series, n: int) -> Series:
    """The end point of a least-squares line through the last ``n`` frames of ``(T, D)``."""
    y = x.copy()
    for t in range(2, len(x)):
        seg = x[max(0, t - n + 1):t + 1]
        k = np.arange(len(seg), dtype=float) - (len(seg) - 1)  # 0 at frame t
        design = np.stack([np.ones_like(k), k], axis=1)
        y[t] = np.linalg.lstsq(design, seg, rcond=None)[0][0]
    return y


def smooth_params(params: tuple[np.ndarray, np.ndarray], smooth: Callable[[Series], Series]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``smooth`` (a ``(T, D)`` → ``(T, D)`` causal smoother) on rotations ``(T, 24, 3, 3)``,
    through their 6D columns and re-orthonormalised, and on β ``(T, 10)``."""
    rot, betas = params
    six = matrix_to_rotation_6d(torch.from_numpy(rot)).numpy().reshape(len(rot), -1)  # (T, 24·6)
    rot_s = rotation_6d_to_matrix(torch.from_numpy(smooth(six).reshape(-1, 24, 6)).float())
    return rot_s.numpy(), smooth(betas)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default="walk,kick,dance_a,cmu_01_01_c")
    ap.add_argument("--checkpoint", type=Path, help="a lookahead-0 network to score too")
    ap.add_argument("--oracle", action="store_true",
                    help="add the best linear smoothers fitted to the clips' own truth")
    ap.add_argument("--fit-on", metavar="CLIPS",
                    help="with --oracle: fit the smoothers on these clips instead (e.g. training "
                         "motions) and score them on --clips")
    ap.add_argument("--out", type=Path, help="folder for causal_frontier.md")
    args = ap.parse_args()

    motions = load_motions()
    order = list(motions)
    cache = cache_root() / "closed-loop"
    cache.mkdir(parents=True, exist_ok=True)
    # the One-Euro filter for the `one-euro` row (the graph's default at L = 0 is now the taps)
    base = PipelineConfig(smoothing=FilterConfig(filter="one-euro"))
    body = load_body_model(base.body.smpl)
    def film(name: str, variants: dict[str, str], cfg_extra: Path | None) -> tuple | None:  # type: ignore[type-arg]
        """(name, truth (T, 24, 3) pelvis-centred, {label: (rotations, β)}); None when a variant
        misses frames (this script needs every frame detected)."""
        # as `stmocap eval --closed-loop` films it (its --min-frames 90, the clip's scene seed)
        clip = film_clip(motions[name].looped(90), replace(SceneConfig(), seed=order.index(name)),
                         cache, base)
        cfg, estimates, gt = clip.cfg, clip.estimates, clip.truth_joints()
        if cfg_extra:
            cfg = replace(cfg, temporal=replace(cfg.temporal, temporal="net", checkpoint=cfg_extra))
        got = {}
        for label, variant in variants.items():
            params = temporal_variant(estimates, cfg, variant)
            if len(params) != len(gt):
                print(f"{name}: {variant} has {len(params)} of {len(gt)} frames", flush=True)
                return None
            got[label] = (np.stack([params[t][0] for t in range(len(gt))]),
                          np.stack([params[t][1] for t in range(len(gt))]))
        print(f"{name}: {len(gt)} frames", flush=True)
        return name, gt, got

    variants = {"raw": "raw", "one-euro": "filtered"}
    if args.checkpoint:
        variants["learned (checkpoint)"] = "learned"
    clips = []
    for name in select_clips(args.clips, motions):
        clip = film(name, variants, args.checkpoint)
        if clip is None:
            raise SystemExit(f"{name}: this script needs every frame detected")
        clips.append(clip)
    fitted = ([c for n in select_clips(args.fit_on, motions)
               if (c := film(n, {"raw": "raw"}, None)) is not None] if args.fit_on else clips)

    smoothers = {f"ema {a}": (lambda x, a=a: ema(x, a)) for a in (0.8, 0.7, 0.6, 0.5, 0.4)}
    smoothers |= {f"holt {a}/{b}": (lambda x, a=a, b=b: holt(x, a, b))
                  for a in (0.7, 0.5, 0.4) for b in (0.2, 0.4, 0.6)}
    smoothers |= {f"line {n}": (lambda x, n=n: line_end(x, n)) for n in (3, 4, 5, 6, 8, 10, 12)}

    def score(predict) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
        total, frames = np.zeros(3), 0
        for name, gt, got in clips:
            pred = predict(name, got)
            n = len(gt)
            total += n * np.array([float(mpjpe(pred, gt).mean()), float(pa_mpjpe(pred, gt).mean()),
                                   float(accel_error(pred, gt).mean())])
            frames += n
        return tuple(total / frames)  # type: ignore[return-value]

    rows: dict[str, tuple[float, float, float]] = {}
    for label in clips[0][2]:
        rows[label] = score(lambda name, got, label=label: _joints(body, *got[label]))
    for label, smooth in smoothers.items():
        rows[label] = score(lambda name, got, smooth=smooth: _joints(body, *smooth_params(got["raw"],
                                                                                     smooth)))

    oracle_rows: dict[str, tuple[float, float, float]] = {}
    if args.oracle:
        raw_joints = {name: _joints(body, *got["raw"]).double().numpy()
                      for name, _, got in clips + fitted}
        pairs = [(raw_joints[name], gt.double().numpy()) for name, gt, _ in fitted]
        kind = "fitted (--fit-on)" if args.fit_on else "oracle"
        grid0 = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 4.0)
        for lookahead in (0, 2, 7):
            for lam in grid0 if lookahead == 0 else (0.0, 0.5, 1.0, 2.0, 4.0):
                taps = fit_taps(pairs, history=15 - lookahead, lookahead=lookahead,
                                accel_weight=lam)
                label = f"{kind} L = {lookahead}, λ {lam:g}"
                m = score(lambda name, got, taps=taps, la=lookahead: torch.from_numpy(
                    apply_taps(raw_joints[name], taps, la)).float())
                (rows if lookahead == 0 else oracle_rows)[label] = m
                if lookahead == 0:  # as the graph would: the taps on the 6D rotations and β
                    rows[label + " (6D)"] = score(
                        lambda name, got, taps=taps: _joints(body, *smooth_params(
                            got["raw"], lambda x: apply_taps(x, taps, 0))))
                print(f"{label}: {m[0]:.1f} / {m[1]:.1f} / {m[2]:.1f}; taps "
                      + " ".join(f"{w:+.3f}" for w in taps), flush=True)

    def dominated(m: tuple[float, float, float]) -> bool:
        return any(o[0] <= m[0] and o[2] <= m[2] and o != m for o in rows.values())

    raw, euro = rows["raw"], rows["one-euro"]
    lines = ["| method | MPJPE | PA-MPJPE | ACC-ERR | Pareto front |", "|---|---|---|---|---|"]
    for label, m in sorted(rows.items(), key=lambda kv: kv[1][2]):
        lines.append(f"| {label} | {m[0]:.1f} | {m[1]:.1f} | {m[2]:.1f} | "
                     f"{'' if dominated(m) else 'yes'} |")
    smooth_enough = {k: m for k, m in rows.items() if m[2] <= euro[2] and k != "one-euro"}
    best = min(smooth_enough.items(), key=lambda kv: kv[1][0]) if smooth_enough else None
    corner = [k for k, m in rows.items() if m[0] <= raw[0] and m[2] < euro[2]]
    verdict = [
        f"Needed at L = 0: MPJPE ≤ {raw[0]:.1f} (raw) and ACC-ERR < {euro[2]:.1f} (One-Euro).",
        ("Methods meeting both: " + ", ".join(corner)) if corner else "No method meets both.",
    ]
    if best:
        verdict.append(f"Best MPJPE among the methods at least as smooth as One-Euro: {best[0]} "
                       f"{best[1][0]:.1f} mm ({best[1][0] - raw[0]:+.1f} over raw).")
    text = "\n".join(lines) + "\n\n" + "\n".join(verdict) + "\n"
    if oracle_rows:
        text += ("\nWith lookahead (the same fit, taps on the next frames too):\n\n"
                 "| method | MPJPE | PA-MPJPE | ACC-ERR |\n|---|---|---|---|\n"
                 + "".join(f"| {k} | {m[0]:.1f} | {m[1]:.1f} | {m[2]:.1f} |\n"
                           for k, m in oracle_rows.items()))
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        name = "causal_frontier_fitted" if args.fit_on else "causal_frontier"
        (args.out / f"{name}.md").write_text(f"Clips: {args.clips}\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
