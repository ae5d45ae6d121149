"""Closed-loop accuracy: render ground-truth motion → run the pipeline's stages → compare.

For each clip: the motion is rendered on the free body (cached), the per-frame stages of the chosen
profile (detect, perframe) run once over every frame, and their estimates are fed to the temporal
part under each variant:

* ``raw``: the per-frame estimates as they are;
* ``stitched``: windows → temporal (none: per-frame estimates) → overlap averaging, no filter;
* ``filtered``: the same plus the One-Euro filter on the video's timestamps;
* ``learned``: windows → the temporal network (``--temporal net``; it needs per-frame features,
  which the lite profile does not produce) → averaging.

Metrics (evaluation.metrics, 24 SMPL joints of the free body, camera frame, pelvis-aligned):
MPJPE, PA-MPJPE, ACC-ERR over frames where the person was detected; detection rate over all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stmocap.evaluation.metrics import accel_error, accel_magnitude, mpjpe, pa_mpjpe
from stmocap.groundtruth.motions import Motion
from stmocap.groundtruth.scene import SceneConfig
from stmocap.realtime.filters import FilterConfig
from stmocap.realtime.messages import Message
from stmocap.realtime.pipeline import PipelineConfig, build_stage
from stmocap.realtime.stages.base import EOS, run_chain

from stmocap.validate import NON_NEGATIVE, non_empty

VARIANTS = ("raw", "stitched", "filtered", "learned")


@dataclass(frozen=True)
class ClosedLoopConfig:
    """What the closed-loop evaluation renders and runs."""

    clips: str = field(default="all", metadata={"check": non_empty,
        "help": "comma-separated clip names, or all"})
    min_frames: int = field(default=90, metadata={"check": NON_NEGATIVE,
        "help": "cyclic clips are repeated up to at least this many frames"})


@dataclass
class ClipResult:
    """Per-clip outcome: ``metrics[variant] = {mpjpe, pa_mpjpe, accel}`` (mm, mm/frame²), the
    detection rate, and per-frame acceleration magnitudes for the plot."""

    name: str
    frames: int
    detected: int
    metrics: dict[str, dict[str, float]]
    accel_gt: np.ndarray
    accel_pred: dict[str, np.ndarray]
    per_frame_ms: float

    @property
    def detection_rate(self) -> float:
        return self.detected / max(self.frames, 1)


def render_cached(motion: Motion, scene: SceneConfig, cache: Path,
                  body_path: Path | None = None) -> tuple[Path, Path]:
    """Render ``motion`` on the body (``None``: the free body) once per (motion, scene, body file)
    into ``cache``; reuse it afterwards."""
    from stmocap.groundtruth.scene import render_digest, write_clip
    from stmocap.models.body.free_body import load_body_data
    from stmocap.models.body.model import LBSBody

    data = load_body_data(body_path)
    digest = render_digest(Path(data.source), np.ascontiguousarray(motion.poses).tobytes(),
                           np.ascontiguousarray(motion.transl).tobytes(), repr(scene).encode())
    video = cache / f"{motion.name}-{digest}.avi"
    if video.is_file() and video.with_suffix(".npz").is_file():
        return video, video.with_suffix(".npz")
    return write_clip(motion, LBSBody(data), video, scene)


def per_frame_estimates(video: Path, cfg: PipelineConfig,
                        progress: Callable[[int], None] | None = None) -> tuple[list[Message], float]:
    """Run ``detect`` and ``perframe`` over every frame; the frames carry the video's own clock
    (``meta["t_media"]``), which the smoothing filters follow. Returns the estimates and the mean
    per-frame cost in ms."""
    import time

    from stmocap.realtime.sources import SourceConfig, frame_message, open_source

    stages = [build_stage(n, cfg) for n in ("detect", "perframe")]
    out: list[Message] = []
    spent = 0.0
    try:
        with open_source(SourceConfig(source=str(video))) as src:
            for frame in src:
                msg = frame_message(frame, src.fps, 0, src.media_clock)  # filters on video time
                t0 = time.perf_counter()
                out += run_chain(stages, msg)
                spent += time.perf_counter() - t0
                if progress:
                    progress(1)
    finally:
        for s in stages:
            s.close()
    return out, 1e3 * spent / max(len(out), 1)


def temporal_variant(estimates: list[Message], cfg: PipelineConfig,
                     variant: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``(rotations (24, 3, 3), betas (10,))`` per frame index (track 0) after the variant's
    temporal stages (``cfg.plan``: window, stride, lookahead)."""
    if variant == "raw":
        from stmocap.models.rotations import rotation_6d_to_matrix

        return {m.seq: (rotation_6d_to_matrix(torch.from_numpy(m.arrays["pose_6d"][0])).numpy(),
                        m.arrays["betas"][0]) for m in estimates if len(m.arrays["track_ids"])}
    smoothing = cfg.smoothing if variant == "filtered" else FilterConfig(filter="none")
    temporal = replace(cfg.temporal, temporal="net" if variant == "learned" else "none")
    vcfg = replace(cfg, smoothing=smoothing, temporal=temporal)
    stages = [build_stage(n, vcfg) for n in ("window", "temporal", "stitch")]
    got: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    try:
        for m in [*estimates, Message(kind=EOS, seq=estimates[-1].seq + 1 if estimates else 0)]:
            for o in run_chain(stages, m):
                if o.kind == "params" and o.track == 0:
                    got[o.seq] = (o.arrays["rotmats"], o.arrays["betas"])
    finally:
        for s in stages:
            s.close()
    return got


def _joints(body: Any, rotmats: np.ndarray, betas: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        j = body(torch.from_numpy(rotmats).float(), torch.from_numpy(betas).float()).joints
    return j - j[:, :1]


def evaluate_clip(motion: Motion, cfg: PipelineConfig, scene: SceneConfig, cache: Path, learned: bool,
                  progress: Callable[[int], None] | None = None) -> ClipResult:
    """Render, run and score one clip (see module docstring)."""
    from stmocap.models.body.model import load_body_model

    # The truth is rendered and measured on the same body model the pipeline poses.
    video, gt_path = render_cached(motion, scene, cache, cfg.body.smpl)
    with np.load(gt_path) as gt:
        gt_joints = torch.from_numpy(gt["joints3d"]).double()
    gt_joints = (gt_joints - gt_joints[:, :1]).float()
    T = gt_joints.shape[0]
    estimates, ms = per_frame_estimates(video, cfg, progress)
    body = load_body_model(cfg.body.smpl)
    metrics: dict[str, dict[str, float]] = {}
    accel_pred: dict[str, np.ndarray] = {}
    for variant in VARIANTS:
        if variant == "learned" and not learned:
            continue
        params = temporal_variant(estimates, cfg, variant)
        valid = np.array([t in params for t in range(T)])
        if valid.sum() < 3:
            metrics[variant] = {"mpjpe": float("nan"), "pa_mpjpe": float("nan"), "accel": float("nan")}
            continue
        # Undetected frames hold the last estimate (what a client would show); metrics skip them.
        filled_rot, filled_b, last = [], [], params[min(params)]
        for t in range(T):
            last = params.get(t, last)
            filled_rot.append(last[0])
            filled_b.append(last[1])
        pred = _joints(body, np.stack(filled_rot), np.stack(filled_b))
        v = torch.from_numpy(valid)
        metrics[variant] = {
            "mpjpe": float(mpjpe(pred[v], gt_joints[v]).mean()),
            "pa_mpjpe": float(pa_mpjpe(pred[v], gt_joints[v]).mean()),
            "accel": float(accel_error(pred, gt_joints, v).mean()),
        }
        accel_pred[variant] = accel_magnitude(pred).numpy()
    detected = sum(1 for m in estimates if len(m.arrays["track_ids"]))
    return ClipResult(motion.name, T, detected, metrics, accel_magnitude(gt_joints).numpy(),
                      accel_pred, ms)


def overall(results: list[ClipResult]) -> dict[str, dict[str, float]]:
    """Frame-weighted means over clips, per variant and metric."""
    out: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        rows = [(r.detected, r.metrics[variant]) for r in results if variant in r.metrics]
        rows = [(n, m) for n, m in rows if np.isfinite(m["mpjpe"])]
        if not rows:
            continue
        total = sum(n for n, _ in rows)
        out[variant] = {k: sum(n * m[k] for n, m in rows) / total for k in ("mpjpe", "pa_mpjpe", "accel")}
    return out


def markdown_table(results: list[ClipResult]) -> str:
    """Per clip and overall: detection rate, then MPJPE / PA-MPJPE / ACC-ERR for each variant."""
    variants = [v for v in VARIANTS if any(v in r.metrics for r in results)]
    head = "| clip | frames | detected | " + " | ".join(
        f"{v} MPJPE | {v} PA-MPJPE | {v} ACC-ERR" for v in variants) + " |"
    lines = [head, "|" + "---|" * (3 + 3 * len(variants))]

    def cells(m: dict[str, dict[str, float]]) -> str:
        keys = ("mpjpe", "pa_mpjpe", "accel")
        return " | ".join(" | ".join(f"{m[v][k]:.1f}" if v in m else "—" for k in keys) for v in variants)

    for r in results:
        lines.append(f"| {r.name} | {r.frames} | {100 * r.detection_rate:.0f}% | {cells(r.metrics)} |")
    frames = sum(r.frames for r in results)
    detected = sum(r.detected for r in results)
    rate = 100 * detected / max(frames, 1)
    lines.append(f"| **all** | {frames} | {rate:.0f}% | {cells(overall(results))} |")
    return "\n".join(lines)


def plot_acceleration(results: list[ClipResult], path: Path) -> Path:
    """Per-frame acceleration magnitude, ground truth vs each variant, one panel per clip (as the
    paper's Figure 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 2.6 * rows), squeeze=False)
    for ax, r in zip(axes.ravel(), results, strict=False):
        ax.plot(r.accel_gt, color="black", lw=1.5, label="ground truth")
        for variant, acc in r.accel_pred.items():
            ax.plot(acc, lw=0.9, label=variant)
        ax.set_title(r.name, fontsize=9)
        ax.set_xlabel("frame", fontsize=8)
        ax.set_ylabel("accel. mm/frame²", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
