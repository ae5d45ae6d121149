"""Training pairs from rendered motion capture: ``stmocap train-data``.

Each shipped clip (groundtruth/, DeepMimic retargeted to SMPL) is rendered on the pipeline's body
from ``views`` camera placements (azimuth, elevation, distance and scene drawn from a seed per clip
and view; with ``shape_sigma``, each view's body gets its own shape β), the lite profile's
per-frame stages run on the video (BlazePose → IK), and every frame becomes one row of a stmocap
feature database (docs/training.md): the BlazePose features H
(:func:`stmocap.models.temporal.features.blazepose_features`), the IK initialisation Θ_init /
ω_init, and the render's truth (pose with the root in the camera frame, β, camera-frame joints, 2D
joints in the detection's crop). Frames without a detection are kept with ``valid = False`` (their
inputs are the last detected frame's, as a stream would hold them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from stmocap.models.temporal.features import EMBEDDING_DIM, FEATURE_DIM

from stmocap.validate import NON_NEGATIVE


@dataclass(frozen=True)
class GenerateConfig:
    """Which clips and camera views become training pairs."""

    clips: str = field(default="all", metadata={
        "help": "comma-separated clip names and groups: all (= deepmimic, the 15 benchmark clips), "
                "cmu (the CMU motion-capture clips), e.g. all,cmu"})
    views: int = field(default=1, metadata={"help": "camera seeds per clip (different placements)"})
    first_seed: int = field(default=100, metadata={
        "help": "scene seed of the first view (the closed-loop evaluation uses 0..clips-1)"})
    min_frames: int = field(default=90, metadata={"help": "cyclic clips are repeated up to this"})
    max_frames: int = field(default=0, metadata={"help": "cut each clip to this many frames (0: all)"})
    azimuth: float = field(default=90.0, metadata={
        "help": "views are filmed from azimuths drawn in ± this many degrees (elevation 0..20°, "
                "distance 2.8..4.5 m)"})
    fov_jitter: float = field(default=0.0, metadata={
        "help": "views' field of view drawn in 60° ± this many degrees (0: the scene's 60°)"})
    shape_sigma: float = field(default=0.0, metadata={"check": NON_NEGATIVE,
        "help": "each view films a body with its own β ~ N(0, σ²) (1: as varied as the adults the "
                "free body was fitted to; 0: the mean body)"})


def _rows(motion_name: str, view: int, video: Path, gt: dict[str, np.ndarray], cfg: Any,
          progress: Callable[[int], None] | None) -> dict[str, np.ndarray]:
    from stmocap.realtime.pipeline import build_stage, lite_detect_stage
    from stmocap.realtime.sources import SourceConfig, frame_message, open_source
    from stmocap.realtime.stages.base import run_chain

    # with the embedding, the mirrored copies' too: the landmark network on the flipped crop
    detect = lite_detect_stage(cfg, mirrored_embedding=True)
    embedding = detect.embedding
    perframe = build_stage("perframe", cfg)
    T = len(gt["pose"])
    feats = np.zeros((T, FEATURE_DIM + (EMBEDDING_DIM if embedding else 0)), np.float32)
    mirrored = np.zeros((T, EMBEDDING_DIM if embedding else 0), np.float32)
    init_pose = np.zeros((T, 144), np.float32)
    init_shape = np.zeros((T, 10), np.float32)
    init_cam = np.tile(np.array([0.9, 0.0, 0.0], np.float32), (T, 1))
    j2d = np.zeros((T, 24, 3), np.float32)
    valid = np.zeros(T, bool)
    try:
        with open_source(SourceConfig(source=str(video))) as src:
            for t, frame in enumerate(src):
                if t >= T:
                    break
                for det in run_chain([detect], frame_message(frame, src.fps, 0, src.media_clock)):
                    ests = run_chain([perframe], det)
                    a = det.arrays
                    if len(a["track_ids"]) and ests:
                        e = ests[0].arrays
                        box = a["boxes"][0]
                        feats[t] = e["feats"][0]  # what the stream feeds the network
                        if embedding:
                            mirrored[t] = a["embedding_mirrored"][0]
                        init_pose[t] = e["pose_6d"][0].reshape(-1)
                        init_shape[t], init_cam[t] = e["betas"][0], e["cam"][0]
                        centre, half = (box[:2] + box[2:]) / 2, float(box[2] - box[0]) / 2
                        j2d[t, :, :2] = (gt["joints2d"][t] - centre) / half
                        j2d[t, :, 2] = 1.0
                        valid[t] = True
                    elif t > 0:  # hold the last inputs, as a stream would
                        feats[t], init_pose[t] = feats[t - 1], init_pose[t - 1]
                        mirrored[t] = mirrored[t - 1]
                        init_shape[t], init_cam[t] = init_shape[t - 1], init_cam[t - 1]
                if progress:
                    progress(1)
    finally:
        detect.close()
        perframe.close()
    # truth root in the camera frame: R_cam · R_root(world)
    R = axis_angle_to_matrix(torch.from_numpy(gt["pose"].astype(np.float32)))  # (T, 24, 3, 3)
    R[:, 0] = torch.from_numpy(gt["cam_rot"].astype(np.float32)) @ R[:, 0]
    pose = matrix_to_axis_angle(R).reshape(T, 72).numpy()
    return {"vid_name": np.array([f"{motion_name}@view{view}"] * T), "frame_id": np.arange(T),
            "features": feats, "init_pose": init_pose, "init_shape": init_shape, "init_cam": init_cam,
            "pose": pose.astype(np.float32), "shape": gt["betas"].astype(np.float32),
            "joints3D": gt["joints3d"].astype(np.float32), "joints2D": j2d, "valid": valid,
            **({"embedding_mirrored": mirrored} if embedding else {})}


def generate(gen: GenerateConfig, cfg: Any, out: Path, cache: Path, background: str = "noise",
             occluders: int = 0, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write the feature database ``out`` (.npz); returns frames, valid frames and videos."""
    from stmocap.evaluation.closed_loop import render_cached
    from stmocap.groundtruth.motions import load_motions, select_clips
    from stmocap.groundtruth.scene import SceneConfig
    from stmocap.groundtruth.shapes import reshaped

    if cfg.perframe.profile != "lite":
        raise ValueError("train-data makes lite-profile pairs (BlazePose features): use --profile lite")
    motions = load_motions()
    names = select_clips(gen.clips, motions)
    cache.mkdir(parents=True, exist_ok=True)
    parts: list[dict[str, np.ndarray]] = []
    for name in names:
        motion = motions[name].looped(gen.min_frames)
        if gen.max_frames:
            motion = replace(motion, poses=motion.poses[:gen.max_frames],
                             transl=motion.transl[:gen.max_frames])
        for view in range(gen.views):
            seed = gen.first_seed + view * 1000 + names.index(name)
            rng = np.random.default_rng(seed)  # camera placement per (clip, view)
            scene = replace(SceneConfig(), seed=seed, occluders=occluders, background=background,
                            azimuth=float(rng.uniform(-gen.azimuth, gen.azimuth)),
                            elevation=float(rng.uniform(0.0, 20.0)),
                            distance=float(rng.uniform(2.8, 4.5)))
            if gen.fov_jitter:  # drawn after the placement, so views without it are unchanged
                scene = replace(scene, fov=float(scene.fov + rng.uniform(-gen.fov_jitter,
                                                                         gen.fov_jitter)))
            # own random stream: views without a shape keep their placement and scene
            video, gt_path = render_cached(reshaped(motion, seed, gen.shape_sigma), scene, cache,
                                           cfg.body.smpl)
            with np.load(gt_path) as f:
                gt = {k: f[k] for k in ("pose", "betas", "cam_rot", "joints3d", "joints2d")}
            parts.append(_rows(name, view, video, gt, cfg, progress))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part.npz")
    np.savez(tmp, **cols)
    tmp.replace(out)
    return {"frames": len(cols["valid"]), "valid": int(cols["valid"].sum()), "videos": len(parts)}
