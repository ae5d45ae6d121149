"""``stmocap render``: a shipped motion-capture clip as a video with its ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stmocap.config import add_dataclass_options, build_config
from stmocap.validate import non_negative_float, non_negative_int


def cmd_render(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from stmocap.groundtruth.motions import load_motions
    from stmocap.groundtruth.scene import SceneConfig, write_sequence
    from stmocap.groundtruth.shapes import reshaped
    from stmocap.models.body.model import load_body_model

    motions = load_motions()
    names = [n.strip() for n in args.clip.split(",")]
    unknown = [n for n in names if n not in motions]
    if unknown or not all(names):
        raise ValueError(f"unknown clip {', '.join(repr(n) for n in unknown) or repr(args.clip)}; "
                         f"available: {', '.join(motions)}")
    if args.out.suffix.lower() != ".avi":
        raise ValueError(f"the video is written as MJPG .avi; got {args.out.name}")
    scene = build_config(SceneConfig, args, args.config, "scene")
    # Several clips: one shot each, cut together, shot k filmed with scene seed + k (another room,
    # clothes and light), all on the one body (drawn from --seed).
    shots = [(reshaped(motions[n].looped(args.min_frames), scene.seed, args.shape_sigma),
              replace(scene, seed=scene.seed + k)) for k, n in enumerate(names)]
    video, gt = write_sequence(shots, load_body_model(args.smpl), args.out, progress=True)
    frames = sum(m.num_frames for m, _ in shots)
    cuts = f", {len(shots)} shots" if len(shots) > 1 else ""
    print(f"wrote {video} ({frames} frames{cuts}, {scene.width}×{scene.height}, "
          f"{shots[0][0].fps:g} fps) and its ground truth {gt}", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from stmocap.groundtruth.scene import SceneConfig

    p = sub.add_parser(
        "render", help="render a shipped motion-capture clip to video + ground truth",
        description="Render one of the shipped clips (DeepMimic or CMU motion capture retargeted to SMPL) "
                    "on the free body: OUT.avi (MJPG) and OUT.npz with per-frame SMPL parameters, "
                    "camera pose, 3D joints in the camera frame, 2D joints and boxes.")
    p.add_argument("clip", help="walk, run, jump, kick, punch, dance_a, …, cmu_01_01_a, … "
                                "(an unknown name lists them); several, comma-separated: one "
                                "shot each, cut together (shot k filmed with --seed + k)")
    p.add_argument("out", type=Path, help="the video to write (.avi)")
    p.add_argument("--min-frames", type=non_negative_int, default=0,
                   help="repeat a cyclic clip to at least this many frames (default: 0, once)")
    p.add_argument("--shape-sigma", type=non_negative_float, default=0.0,
                   help="film a body with its own shape β ~ N(0, σ²), drawn from --seed (1: as varied "
                        "as the adults the free body was fitted to; default: 0, the mean body)")
    p.add_argument("--smpl", type=Path, default=None,
                   help="render on this SMPL-format body instead of the free body")
    p.add_argument("--config", type=Path, help="TOML file with a [scene] table")
    add_dataclass_options(p, SceneConfig)
    p.set_defaults(func=cmd_render)
