"""``stmocap eval``: accuracy against ground truth (``--closed-loop``: rendered motion capture)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from stmocap.config import add_dataclass_options, build_config
from stmocap.validate import non_negative_int


def unseen_scene(scene: Any, loop: Any) -> Any:
    """``scene`` (a ``SceneConfig``) with the closed-loop options that film it in a way the
    training renders never were: another camera height or angle, a photograph behind the person,
    other light."""
    if loop.camera_elevation is not None:
        scene = replace(scene, elevation=loop.camera_elevation)
    if loop.camera_azimuth is not None:
        scene = replace(scene, azimuth=loop.camera_azimuth)
    if loop.light_jitter is not None:
        scene = replace(scene, light_jitter=loop.light_jitter)
    if loop.background_image is not None:
        scene = replace(scene, background="image", background_image=loop.background_image)
    return scene


def cmd_eval(args: argparse.Namespace) -> int:
    if getattr(args, "dataset", None):
        from stmocap.training.cli import cmd_eval_dataset

        return cmd_eval_dataset(args)
    if not args.closed_loop:
        raise ValueError("only --closed-loop is implemented (dataset evaluation needs 3DPW/Human3.6M, "
                         "which cannot be downloaded here)")
    import numpy as np
    from tqdm import tqdm

    from stmocap.cache import cache_root
    from stmocap.commands.bench import write_section
    from stmocap.commands.run import pipeline_config
    from stmocap.evaluation.closed_loop import (
        ClosedLoopConfig,
        camera_table,
        evaluate_clip,
        given_height,
        markdown_table,
        plot_acceleration,
    )
    from stmocap.groundtruth.motions import load_motions, select_clips
    from stmocap.groundtruth.scene import SceneConfig
    from stmocap.groundtruth.shapes import reshaped

    cfg = pipeline_config(args, extra={"closed_loop": ClosedLoopConfig})
    loop = build_config(ClosedLoopConfig, args, args.config, "closed_loop")
    if loop.height_error and not loop.given_height:
        raise ValueError("--height-error is added to the true height: it needs --given-height")
    if loop.background_image is not None and not loop.background_image.is_file():
        raise FileNotFoundError(f"--background-image {loop.background_image}: no such file")
    motions = load_motions()
    names = select_clips(loop.clips, motions)
    learned = cfg.temporal.temporal == "net"
    clips = [motions[n].looped(loop.min_frames) for n in names]
    order = list(motions)
    cache = cache_root() / "closed-loop"
    cache.mkdir(parents=True, exist_ok=True)  # an unwritable cache fails here, before any work
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with tqdm(total=sum(c.num_frames for c in clips), desc="closed loop", unit="frame") as bar:
        for motion in clips:
            bar.set_postfix_str(motion.name)
            # Each clip is filmed the same way whichever --clips are asked for: seed = its place in
            # the shipped list.
            scene = replace(SceneConfig(), seed=order.index(motion.name), occluders=args.occluders,
                            background=args.background)
            if loop.static_camera:
                scene = replace(scene, follow=0)
            if loop.camera_distance:
                scene = replace(scene, distance=loop.camera_distance)
            scene = unseen_scene(scene, loop)
            filmed = reshaped(motion, scene.seed, loop.shape_sigma)
            run_cfg = given_height(cfg, filmed, loop.height_error) if loop.given_height else cfg
            results.append(evaluate_clip(filmed, run_cfg, scene, cache, learned, bar.update,
                                         loop.fov_scale))
    command = "stmocap " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    table = markdown_table(results)
    args.out.mkdir(parents=True, exist_ok=True)
    plot = plot_acceleration(results, args.out / "acceleration.png")
    note = ("Metrics: 24 SMPL joints of the free body, camera frame, pelvis-aligned, mm (ACC-ERR: "
            "mm/frame²), over frames where the person was detected. `stitched` without a temporal "
            "network averages identical per-frame estimates, so it equals `raw`; `learned` appears "
            "where a temporal network runs (--temporal net, or the default --temporal auto at a "
            "lookahead with shipped lite weights), alone; `blended` is its output mixed with "
            "the taps' smoothing of the per-frame estimates (`filtered`), what the graph "
            "publishes with a network and --filter taps (the default with the shipped lite "
            "networks); `smoothed` is the One-Euro filter given the same lookahead.")
    placement = ("Placement and world frame (`filtered`, what is published; docs/groundtruth.md): "
                 "medians over detected frames of the root's depth error (% of its true depth) and "
                 "position error; camera height and pitch errors over frames whose estimate was "
                 "stable; W-MPJPE100 / WA-MPJPE100 (mm) and RTE (%) only with --static-camera.")
    text = (f"Command: `{command}`\n\n{table}\n\n{note}\n\n{camera_table(results)}\n\n"
            f"{placement}\n")
    (args.out / "closed_loop.md").write_text(text)
    def finite(m: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
        return {v: {k: (x if np.isfinite(x) else None) for k, x in d.items()} for v, d in m.items()}

    (args.out / "closed_loop.json").write_text(json.dumps(
        [{"clip": r.name, "frames": r.frames, "detected": r.detected, "metrics": finite(r.metrics),
          "perframe_ms": r.per_frame_ms, "camera": finite(r.camera)} for r in results], indent=1))
    print(text)
    print(f"wrote {args.out / 'closed_loop.md'}, closed_loop.json and {plot.name}", file=sys.stderr)
    if args.markdown:
        import os

        rel = Path(os.path.relpath(plot.resolve(), args.markdown.resolve().parent)).as_posix()
        write_section(args.markdown, text + f"\n![acceleration]({rel})", key="closed-loop",
                      heading="## Closed-loop accuracy (`stmocap eval --closed-loop`)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from stmocap.commands.run import add_pipeline_options
    from stmocap.evaluation.closed_loop import ClosedLoopConfig

    p = sub.add_parser(
        "eval", help="accuracy against ground truth (--closed-loop: rendered motion capture)",
        description="--closed-loop: render each shipped motion-capture clip on the free body (cached "
                    "in $STMOCAP_CACHE/closed-loop), run the profile's per-frame stages on the video, "
                    "then the temporal part as raw / stitched / filtered / smoothed / learned / "
                    "blended (learned and blended with --temporal net, for profiles whose "
                    "per-frame stage gives features), and report "
                    "MPJPE, PA-MPJPE and ACC-ERR per clip and overall "
                    "(Markdown, JSON and an acceleration plot in --out).")
    p.add_argument("--closed-loop", action="store_true", help="evaluate on rendered ground truth")
    add_pipeline_options(p)
    add_dataclass_options(p, ClosedLoopConfig)
    p.add_argument("--occluders", type=non_negative_int, default=0,
                   help="moving rectangles over each clip (default: 0)")
    p.add_argument("--background", choices=["plain", "noise"], default="noise",
                   help="background behind the rendered person (default: noise)")
    p.add_argument("--out", type=Path, default=Path("eval-out"),
                   help="folder for closed_loop.md/.json and acceleration.png (default: eval-out)")
    p.add_argument("--markdown", type=Path, help="also write the table into this Markdown file "
                                                 "(e.g. docs/benchmarks.md)")
    from stmocap.training.cli import add_dataset_eval_options

    add_dataset_eval_options(p)
    p.set_defaults(func=cmd_eval)
