"""Closed-loop accuracy: render ground-truth motion → run the pipeline's stages → compare.

For each clip: the motion is rendered on the free body (cached), the per-frame stages of the chosen
profile (detect, perframe) run once over every frame, and their estimates are fed to the temporal
part under each variant:

* ``raw``: the per-frame estimates as they are;
* ``stitched``: windows → temporal (none: per-frame estimates) → overlap averaging, no filter;
* ``filtered``: the same plus the graph's filter (``--filter``; by default, on the lite profile,
  the learned taps shipped for ``--lookahead``, else the One-Euro filter on the video's
  timestamps; taps with lookahead read the frames the graph waits for);
* ``smoothed`` (only with lookahead L > 0): the One-Euro filter given the L frames of lookahead, a
  forward-backward pass (``realtime.filters.one_euro_lookahead``) on the per-frame estimates —
  the filter baseline at equal lookahead;
* ``learned``: windows → the temporal network (``--temporal net``; it needs per-frame features:
  the lite profile's are BlazePose's, ``feats (T, 231)``, for a lite network) → averaging;
* ``blended`` (only with a network and ``--filter taps``, the default with the shipped lite
  networks): the network's output mixed with the taps' smoothing of the per-frame estimates
  (``--taps-weight``), what the graph publishes there.

Metrics (evaluation.metrics, 24 SMPL joints of the free body, camera frame, pelvis-aligned):
MPJPE, PA-MPJPE, ACC-ERR over frames where the person was detected; detection rate over all.

Placement (evaluation.world_metrics, docs/groundtruth.md), for ``raw`` and ``filtered``: the root
(pelvis) depth error in % of its true depth and position error in cm, camera frame, with the
clip's true intrinsics (or its field of view times ``fov_scale``); the world frame estimated from
the feet (camera height and pitch errors, frames flagged stable); with a static camera
(``static_camera``) also W-MPJPE100, WA-MPJPE100 and RTE against the true world motion.
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

from stmocap.validate import NON_NEGATIVE, Range, non_empty

VARIANTS = ("raw", "stitched", "filtered", "smoothed", "learned", "blended")


@dataclass(frozen=True)
class ClosedLoopConfig:
    """What the closed-loop evaluation renders and runs."""

    clips: str = field(default="all", metadata={"check": non_empty,
        "help": "comma-separated clip names and groups: all (= deepmimic, the 15 benchmark clips; "
                "the default), cmu (the CMU motion-capture clips)"})
    min_frames: int = field(default=90, metadata={"check": NON_NEGATIVE,
        "help": "cyclic clips are repeated up to at least this many frames"})
    fov_scale: float = field(default=1.0, metadata={
        "help": "run with the clip's field of view times this (1.2: 20 %% too wide) instead of its "
                "true intrinsics"})
    static_camera: bool = field(default=False, metadata={
        "help": "film each clip from a fixed camera (the world-frame metrics need one) instead of "
                "one following the subject"})
    camera_distance: float = field(default=0.0, metadata={
        "help": "camera distance to the (mean) pelvis in metres (0: the scene's default)"})
    camera_elevation: float | None = field(default=None, metadata={"check": Range(-89, 89),
        "help": "camera height angle in degrees, for every clip (default: the scene's 8°; the "
                "training views span 0..20°)"})
    camera_azimuth: float | None = field(default=None, metadata={"check": Range(-180, 180),
        "help": "camera angle around the person in degrees, 0 in front, for every clip (default: "
                "the scene's 20°; the training views span ±90°)"})
    background_image: Path | None = field(default=None, metadata={
        "help": "film in front of this photograph instead of --background (the training "
                "renders have none)"})
    light_jitter: float | None = field(default=None, metadata={"check": NON_NEGATIVE,
        "help": "random light strength and colour, ± this fraction (default: the scene's 0.3)"})
    shape_sigma: float = field(default=0.0, metadata={"check": NON_NEGATIVE,
        "help": "render each clip on a body with its own β ~ N(0, σ²) (seeded by the clip, so "
                "the same clip gets the same body every run) instead of the mean body (0)"})
    given_height: bool = field(default=False, metadata={
        "help": "run each clip with --person-height set to its body's true standing height (what a user "
                "who states their height gives the lite profile), plus --height-error"})
    height_error: float = field(default=0.0, metadata={
        "help": "with --given-height: metres added to the true height (a user's misstatement)"})


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
    camera: dict[str, dict[str, float]] = field(default_factory=dict)

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
                           np.ascontiguousarray(motion.transl).tobytes(), repr(scene).encode(),
                           np.ascontiguousarray(motion.betas, np.float64).tobytes(),
                           *([scene.background_image.read_bytes()] if scene.background_image else []))
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


@dataclass(frozen=True)
class Filmed:
    """One clip filmed for scoring: ``cfg`` with the clip's own camera (:func:`clip_camera`), the
    per-frame stages' ``estimates`` (one message per video frame, the video's clock), the truth
    ``joints3d (T, 24, 3)`` (camera frame, metres), ``cam_rot (T, 3, 3)`` and ``cam_t (T, 3)``,
    the clip's fps and the mean per-frame cost in ms."""

    cfg: PipelineConfig
    estimates: list[Message]
    truth: dict[str, np.ndarray]
    fps: float
    per_frame_ms: float

    def truth_joints(self) -> torch.Tensor:
        """The truth's joints ``(T, 24, 3)``, pelvis-centred, float32, as the metrics take them."""
        gt = torch.from_numpy(self.truth["joints3d"]).double()
        return (gt - gt[:, :1]).float()


def film(motion: Motion, scene: SceneConfig, cache: Path, cfg: PipelineConfig,
         progress: Callable[[int], None] | None = None, fov_scale: float = 1.0) -> Filmed:
    """Render ``motion`` in ``scene`` (cached, on ``cfg``'s body) and run ``cfg``'s per-frame
    stages on the video with the clip's camera: what every closed-loop score starts from."""
    video, gt_path = render_cached(motion, scene, cache, cfg.body.smpl)
    cfg = clip_camera(cfg, gt_path, fov_scale)
    with np.load(gt_path) as gt:
        truth = {k: np.asarray(gt[k]) for k in ("joints3d", "cam_rot", "cam_t")}
        fps = float(gt["fps"])
    estimates, ms = per_frame_estimates(video, cfg, progress)
    return Filmed(cfg, estimates, truth, fps, ms)


def temporal_variant(estimates: list[Message], cfg: PipelineConfig,
                     variant: str) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """``(rotations (24, 3, 3), betas (10,), transl (3,) or None)`` per frame index (track 0) after
    the variant's temporal stages (``cfg.plan``: window, stride, lookahead)."""
    if variant == "raw":
        from stmocap.models.rotations import rotation_6d_to_matrix

        return {m.seq: (rotation_6d_to_matrix(torch.from_numpy(m.arrays["pose_6d"][0])).numpy(),
                        m.arrays["betas"][0],
                        m.arrays["transl"][0] if "transl" in m.arrays else None)
                for m in estimates if len(m.arrays["track_ids"])}
    if variant == "smoothed":
        from stmocap.realtime.filters import one_euro_lookahead
        from stmocap.realtime.messages import content_time

        raw = temporal_variant(estimates, cfg, "raw")
        frames = sorted(raw)
        times = {m.seq: content_time(m) for m in estimates}  # the video's own clock
        rot, betas = one_euro_lookahead(np.stack([raw[t][0] for t in frames]),
                                        np.stack([raw[t][1] for t in frames]),
                                        np.array([times[t] for t in frames]), cfg.plan.lookahead,
                                        cfg.smoothing)
        return {t: (rot[i], betas[i], raw[t][2]) for i, t in enumerate(frames)}
    smoothing = cfg.smoothing if variant in ("filtered", "blended") else FilterConfig(filter="none")
    temporal = replace(cfg.temporal, temporal="net" if variant in ("learned", "blended") else "none")
    return stream_params(estimates, replace(cfg, smoothing=smoothing, temporal=temporal))


def stream_params(estimates: list[Message], cfg: PipelineConfig
                  ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """``(rotations (24, 3, 3), betas (10,), transl (3,) or None)`` per frame index (track 0) out
    of ``cfg``'s window, temporal and stitch stages (its temporal model and smoothing as given)."""
    stages = [build_stage(n, cfg) for n in ("window", "temporal", "stitch")]
    got: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    try:
        for m in [*estimates, Message(kind=EOS, seq=estimates[-1].seq + 1 if estimates else 0)]:
            for o in run_chain(stages, m):
                if o.kind == "params" and o.track == 0:
                    got[o.seq] = (o.arrays["rotmats"], o.arrays["betas"], o.arrays.get("transl"))
    finally:
        for s in stages:
            s.close()
    return got


def _joints(body: Any, rotmats: np.ndarray, betas: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        j = body(torch.from_numpy(rotmats).float(), torch.from_numpy(betas).float()).joints
    return j - j[:, :1]


def held_frames(params: dict[int, tuple[np.ndarray, ...]], T: int) -> tuple[np.ndarray, np.ndarray]:
    """``rotations (T, 24, 3, 3)``, ``betas (T, 10)`` for frames ``0..T-1`` where undetected frames
    hold the last estimate (what a client would show; metrics skip them). ``params`` non-empty."""
    rot, betas, last = [], [], params[min(params)]
    for t in range(T):
        last = params.get(t, last)
        rot.append(last[0])
        betas.append(last[1])
    return np.stack(rot), np.stack(betas)


def clip_camera(cfg: PipelineConfig, gt_path: Path, fov_scale: float = 1.0) -> PipelineConfig:
    """``cfg`` with the rendered clip's camera: its true intrinsics, or its field of view (across
    the longer side) times ``fov_scale``."""
    import math

    if not 0.1 <= fov_scale <= 3.0:
        raise ValueError(f"--fov-scale must be in 0.1..3, got {fov_scale:g}")
    if fov_scale == 1.0:
        return replace(cfg, camera=replace(cfg.camera, intrinsics=gt_path, fov=0.0))
    with np.load(gt_path) as gt:
        focal, size = float(gt["focal"]), [int(v) for v in gt["image_size"]]
    fov = math.degrees(2 * math.atan(max(size) / (2 * focal))) * fov_scale
    return replace(cfg, camera=replace(cfg.camera, intrinsics=None, fov=fov))


def placement_metrics(body: Any, params: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
                      gt: dict[str, np.ndarray], valid: np.ndarray, fps: float,
                      static_camera: bool) -> dict[str, float]:
    """Root depth/position errors (camera frame), world-frame estimate errors and, with a static
    camera, W-MPJPE100 / WA-MPJPE100 / RTE (see module docstring); frames without an estimate
    are skipped (the floor estimator sees only estimated frames, as in a live run)."""
    from stmocap.evaluation.world_metrics import (
        camera_pitch_height,
        root_depth_error,
        root_position_error,
        rte,
        w_mpjpe,
    )
    from stmocap.models.camera.floor import FloorEstimator

    frames = [t for t in range(len(valid)) if valid[t] and params[t][2] is not None]
    if len(frames) < 3:
        return {}
    rot = np.stack([params[t][0] for t in frames])
    betas = np.stack([params[t][1] for t in frames])
    transl = np.stack([params[t][2] for t in frames]).astype(np.float64)
    with torch.no_grad():
        out = body(torch.from_numpy(rot).float(), torch.from_numpy(betas).float())
    joints = out.joints.double().numpy() + transl[:, None]
    verts = out.vertices.double().numpy() + transl[:, None]
    gt_j = gt["joints3d"][frames].astype(np.float64)
    depth = root_depth_error(joints[:, 0], gt_j[:, 0])
    pos = root_position_error(joints[:, 0], gt_j[:, 0])
    floor = FloorEstimator()
    worlds = [floor.update(verts[k], joints[k], t / fps) for k, t in enumerate(frames)]
    pitch_gt, height_gt = camera_pitch_height(gt["cam_rot"][frames].astype(np.float64),
                                              gt["cam_t"][frames].astype(np.float64))
    stable = np.array([w.stable for w in worlds])
    pitch_err = np.abs(np.array([w.pitch for w in worlds]) - pitch_gt)
    height_err = np.abs(np.array([w.height for w in worlds]) - height_gt)
    sel = stable if stable.any() else np.ones_like(stable)
    m = {"depth_pct": float(np.median(depth) * 100), "root_cm": float(np.median(pos) * 100),
         "root_mean_cm": float(pos.mean() * 100),
         "distance_m": float(np.median(np.linalg.norm(gt_j[:, 0], axis=-1))),
         "stable_pct": float(stable.mean() * 100),
         "pitch_err_deg": float(np.median(pitch_err[sel])),
         "height_err_cm": float(np.median(height_err[sel]) * 100),
         "final_pitch_err_deg": float(pitch_err[-1]), "final_height_err_cm": float(height_err[-1] * 100)}
    if static_camera:
        R, tc = gt["cam_rot"][frames].astype(np.float64), gt["cam_t"][frames].astype(np.float64)
        gt_world = np.einsum("nji,nkj->nki", R, gt_j - tc[:, None])  # Rᵀ (p − t)
        T = np.stack([w.T_world_cam for w in worlds])
        pred_world = np.einsum("nij,nkj->nki", T[:, :3, :3], joints) + T[:, None, :3, 3]
        m.update({"w_mpjpe": w_mpjpe(pred_world, gt_world),
                  "wa_mpjpe": w_mpjpe(pred_world, gt_world, whole=True),
                  "rte_pct": rte(pred_world[:, 0], gt_world[:, 0])})
        # The same with the floor given as --camera-height/--camera-pitch would give it (the true
        # camera height and pitch; the scenes' cameras are not rolled): the trajectory's own error.
        given = FloorEstimator(height=float(np.median(height_gt)), pitch=float(np.median(pitch_gt)))
        Tg = given.update(verts[0], joints[0], 0.0).T_world_cam
        world_g = joints @ Tg[:3, :3].T + Tg[:3, 3]
        m.update({"w_mpjpe_given": w_mpjpe(world_g, gt_world),
                  "wa_mpjpe_given": w_mpjpe(world_g, gt_world, whole=True),
                  "rte_given_pct": rte(world_g[:, 0], gt_world[:, 0])})
    return m


def given_height(cfg: PipelineConfig, motion: Motion, error: float = 0.0) -> PipelineConfig:
    """``cfg`` told the filmed body's true standing height (``motion.betas`` on the run's body
    model, :func:`~stmocap.models.body.stature.stature`) plus ``error`` metres."""
    from stmocap.models.body.free_body import load_body_data
    from stmocap.models.body.stature import stature

    data = load_body_data(cfg.body.smpl)
    betas = np.asarray(motion.betas, np.float64)[: data.shapedirs.shape[-1]]
    return replace(cfg, perframe=replace(cfg.perframe, person_height=stature(data, betas) + error))


def evaluate_clip(motion: Motion, cfg: PipelineConfig, scene: SceneConfig, cache: Path, learned: bool,
                  progress: Callable[[int], None] | None = None, fov_scale: float = 1.0
                  ) -> ClipResult:
    """Render, run and score one clip (see module docstring)."""
    from stmocap.models.body.model import load_body_model

    # The truth is rendered and measured on the same body model the pipeline poses.
    filmed = film(motion, scene, cache, cfg, progress, fov_scale)
    cfg, estimates, gt_all, fps, ms = (filmed.cfg, filmed.estimates, filmed.truth, filmed.fps,
                                       filmed.per_frame_ms)
    gt_joints = filmed.truth_joints()
    T = gt_joints.shape[0]
    body = load_body_model(cfg.body.smpl)
    metrics: dict[str, dict[str, float]] = {}
    camera: dict[str, dict[str, float]] = {}
    accel_pred: dict[str, np.ndarray] = {}
    for variant in VARIANTS:
        if variant in ("learned", "blended") and not learned:
            continue
        if variant == "blended" and cfg.smoothing.filter != "taps":
            continue
        if variant == "smoothed" and (cfg.plan.lookahead == 0 or cfg.smoothing.filter == "none"):
            continue
        params = temporal_variant(estimates, cfg, variant)
        valid = np.array([t in params for t in range(T)])
        if valid.sum() < 3:
            metrics[variant] = {"mpjpe": float("nan"), "pa_mpjpe": float("nan"), "accel": float("nan")}
            continue
        pred = _joints(body, *held_frames(params, T))
        v = torch.from_numpy(valid)
        metrics[variant] = {
            "mpjpe": float(mpjpe(pred[v], gt_joints[v]).mean()),
            "pa_mpjpe": float(pa_mpjpe(pred[v], gt_joints[v]).mean()),
            "accel": float(accel_error(pred, gt_joints, v).mean()),
        }
        accel_pred[variant] = accel_magnitude(pred).numpy()
        if variant in ("raw", "filtered"):
            camera[variant] = placement_metrics(body, params, gt_all, valid, fps,
                                                scene.follow == 0)
    detected = sum(1 for m in estimates if len(m.arrays["track_ids"]))
    return ClipResult(motion.name, T, detected, metrics, accel_magnitude(gt_joints).numpy(),
                      accel_pred, ms, camera)


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


CAMERA_COLUMNS = (("distance_m", "distance m", "{:.2f}"), ("depth_pct", "depth err %", "{:.1f}"),
                  ("root_cm", "root err cm", "{:.1f}"), ("stable_pct", "stable %", "{:.0f}"),
                  ("height_err_cm", "cam height err cm", "{:.1f}"),
                  ("pitch_err_deg", "pitch err °", "{:.1f}"), ("w_mpjpe", "W-MPJPE100", "{:.0f}"),
                  ("wa_mpjpe", "WA-MPJPE100", "{:.0f}"), ("rte_pct", "RTE %", "{:.1f}"),
                  ("w_mpjpe_given", "W-MPJPE100 (floor given)", "{:.0f}"),
                  ("wa_mpjpe_given", "WA-MPJPE100 (floor given)", "{:.0f}"),
                  ("rte_given_pct", "RTE % (floor given)", "{:.1f}"))


def camera_table(results: list[ClipResult], variant: str = "filtered") -> str:
    """Per clip: placement and world-frame metrics of ``variant`` (medians over frames; see
    :func:`placement_metrics`), then the frame-weighted mean over clips."""
    cols = [c for c in CAMERA_COLUMNS if any(c[0] in r.camera.get(variant, {}) for r in results)]
    lines = ["| clip | " + " | ".join(c[1] for c in cols) + " |", "|" + "---|" * (1 + len(cols))]
    rows = [(r.name, r.detected, r.camera.get(variant, {})) for r in results]
    for name, _, m in rows:
        lines.append(f"| {name} | " + " | ".join(c[2].format(m[c[0]]) if c[0] in m else "—"
                                                 for c in cols) + " |")
    cells = []
    for key, _, fmt in cols:
        got = [(n, m[key]) for _, n, m in rows if key in m and np.isfinite(m[key])]
        total = sum(n for n, _ in got)
        cells.append(fmt.format(sum(n * x for n, x in got) / total) if total else "—")
    lines.append("| **all (frame-weighted mean)** | " + " | ".join(cells) + " |")
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
