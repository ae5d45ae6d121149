"""Command-line wiring: ``stmocap train CONFIG.toml`` and the ``--dataset`` mode of ``stmocap eval``.

Heavy imports (torch, the readers) happen inside the commands, not when the parser is built.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from stmocap.training.config import TrainConfig

from stmocap.config import add_dataclass_options


def cmd_train(args: argparse.Namespace) -> int:
    from stmocap.training.config import check_toml_tables, load_run_config
    from stmocap.training.trainer import train

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in vars(args).items() if k in names}
    if "out" in overrides:
        overrides["out"] = str(overrides["out"])
    check_toml_tables(args.config)
    run = load_run_config(args.config, overrides)
    result = train(run, args.resume, status=lambda s: print(s, file=sys.stderr))
    print(f"wrote {result.checkpoint} after {result.steps} steps; log: {Path(run.train.out) / 'log.csv'}")
    return 0


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train the temporal network from a TOML config (CPU by default)",
        description="Train the temporal network on VIBE/TCMR databases (.pt) or stmocap feature "
                    "databases (.npz) as CONFIG's [train], [data], [loss] and [temporal] tables say "
                    "(docs/training.md). Writes last.pt (and best.pt with validation data) and "
                    "log.csv into [train] out; options below override [train].")
    p.add_argument("config", type=Path, help="TOML run configuration")
    p.add_argument("--resume", type=Path, help="continue from this checkpoint of the same config "
                                               "(reproduces the uninterrupted run bit for bit)")
    add_dataclass_options(p, TrainConfig)
    p.set_defaults(func=cmd_train)


def cmd_train_release(args: argparse.Namespace) -> int:
    from stmocap.training.state import release_checkpoint

    out = release_checkpoint(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) from {args.checkpoint}")
    return 0


def add_train_release_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-release", help="strip a training checkpoint to what running it needs",
        description="Write CHECKPOINT's network, config, run configuration, data manifest and "
                    "metrics to OUT without the optimiser and RNG state (which only --resume "
                    "needs): the file to ship or hand to `stmocap run --checkpoint`.")
    p.add_argument("checkpoint", type=Path, help="best.pt or last.pt of `stmocap train`")
    p.add_argument("out", type=Path, help="the .pt to write")
    p.set_defaults(func=cmd_train_release)


def add_dataset_eval_options(p: argparse.ArgumentParser) -> None:
    """Options of ``stmocap eval --dataset`` (the checkpoint, body and lookahead options are the
    pipeline's own: ``--checkpoint``, ``--smpl``, ``--lookahead``, ``--device``)."""
    g = p.add_argument_group("dataset evaluation", "stmocap eval --dataset FILE... --checkpoint CKPT")
    g.add_argument("--dataset", type=Path, nargs="+", metavar="FILE",
                   help="evaluate --checkpoint on these VIBE/TCMR databases (.pt) or stmocap feature "
                        "databases (.npz): PA-MPJPE, MPJPE, MPVPE, ACC-ERR as in the paper's Table 1")
    g.add_argument("--joint-regressor", type=Path, metavar="NPY",
                   help="(J, V) joint regressor for the metrics, e.g. J_regressor_h36m.npy (17 rows → "
                        "the 14 evaluation joints); default: the body model's 24 joints")
    g.add_argument("--feature-key", default="features", help="column holding H (default: features)")
    g.add_argument("--eval-batch", type=int, default=256, help="windows per forward pass (default: 256)")


def cmd_eval_dataset(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from stmocap.models.body.model import load_body_model
    from stmocap.models.temporal.checkpoint import load_checkpoint
    from stmocap.training.data import read_table
    from stmocap.training.evaluate import (
        JointSet,
        dataset_metrics,
        markdown_table,
        plot_acceleration,
        predict_table,
        write_report,
    )

    from stmocap.commands.run import pipeline_config

    cfg = pipeline_config(args)
    if cfg.temporal.checkpoint is None:
        raise ValueError("--dataset needs --checkpoint CKPT (a file written by `stmocap train`)")
    device = cfg.temporal.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA GPU")
    net = load_checkpoint(cfg.temporal.checkpoint, map_location=device).to(device)
    W, L = net.cfg.window, cfg.plan.lookahead
    if not 0 <= L <= W - 1:
        raise ValueError(f"--lookahead must be in 0..{W - 1} for this network, got {L}")
    body = load_body_model(cfg.body.smpl)
    regressor = None
    if args.joint_regressor is not None:
        regressor = np.load(args.joint_regressor)
    joint_set = JointSet(body, regressor)
    args.out.mkdir(parents=True, exist_ok=True)
    results, plots = {}, []
    for path in args.dataset:
        table = read_table(path, "auto", args.feature_key)
        if tuple(table.features.shape[1:]) != net.cfg.feat_shape:
            raise ValueError(f"{path}: features are {tuple(table.features.shape[1:])} per frame, the "
                             f"checkpoint's network reads {net.cfg.feat_shape}")
        preds = predict_table(net, table, W - 1 - L, args.eval_batch, device)
        if not table.has_init:
            del preds["init"]
        name = path.stem
        results[name], aligned = dataset_metrics(preds, table, joint_set)
        plots.append(plot_acceleration(aligned, table, args.out / f"acceleration_{name}.png"))
    command = "stmocap " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    note = (f"Joints: {joint_set.name} of {body.data_source}, pelvis-aligned, mm (ACC-ERR mm/frame²), "
            f"valid frames. Each frame from its own {W}-frame window at position {W - 1 - L} "
            f"(lookahead {L}). Rows: refined = the network's output, coarse = its regressor g, "
            "init = the per-frame initialisation it was given.")
    md, js = write_report(results, args.out, command, note)
    print(markdown_table(results))
    print(f"wrote {md}, {js.name} and {', '.join(p.name for p in plots)}", file=sys.stderr)
    return 0


def cmd_train_data(args: argparse.Namespace) -> int:
    from stmocap.training.generate import GenerateConfig, generate
    from tqdm import tqdm

    from stmocap.cache import cache_root
    from stmocap.commands.run import pipeline_config
    from stmocap.config import build_config

    cfg = pipeline_config(args)
    gen = build_config(GenerateConfig, args, args.config, "train_data")
    with tqdm(desc="train-data", unit="frame", disable=not args.progress) as bar:
        info = generate(gen, cfg, args.out, cache_root() / "closed-loop", args.background,
                        args.occluders, bar.update)
    print(f"wrote {args.out}: {info['frames']} frames ({info['valid']} detected) in {info['videos']} videos")
    return 0


def cmd_train_virtual(args: argparse.Namespace) -> int:
    import json

    import numpy as np
    from stmocap.realtime.pipeline import build_stage
    from stmocap.training.virtual import VirtualConfig, fit_regressor, virtual_table
    from tqdm import tqdm

    from stmocap.cli import UserError
    from stmocap.commands.run import pipeline_config
    from stmocap.config import build_config

    cfg = pipeline_config(args)
    vcfg = build_config(VirtualConfig, args, args.config, "train_virtual")
    if cfg.perframe.profile != "lite":
        raise UserError("train-virtual makes lite-profile pairs: use --profile lite")
    tables = []
    for path in args.tables:
        if not path.is_file():
            raise UserError(f"--from {path}: file not found (make it with `stmocap train-data`)")
        with np.load(path) as f:
            missing = {"features", "joints3D", "joints2D", "pose", "shape", "valid", "vid_name"} - set(f)
            if missing:
                raise UserError(f"--from {path}: not a `stmocap train-data` table (no {sorted(missing)})")
            tables.append({k: f[k] for k in f})
    reg = fit_regressor(tables)
    perframe = build_stage("perframe", cfg)
    total = sum(len(t["valid"]) for t in tables) * vcfg.views
    with tqdm(total=total, desc="train-virtual", unit="frame", disable=not args.progress) as bar:
        cols = virtual_table(tables, vcfg, perframe, reg, bar.update)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".part.npz")
    np.savez(tmp, **cols)
    tmp.replace(args.out)
    meta = {"kind": "unrendered pairs (stmocap.training.virtual)", "sources": [str(p) for p in args.tables],
            "config": {k: getattr(vcfg, k) for k in vcfg.__dataclass_fields__},
            "regressor": reg.summary(), "frames": len(cols["valid"])}
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {args.out}: {meta['frames']} unrendered frames from {len(tables)} rendered tables "
          f"(regressor residual: image {meta['regressor']['image_xy_rms']:.3f} box units, world "
          f"{meta['regressor']['world_rms_m'] * 1000:.0f} mm RMS) and {args.out.with_suffix('.json').name}")
    return 0


def cmd_fit_taps(args: argparse.Namespace) -> int:
    import datetime

    from stmocap.groundtruth.motions import load_motions, select_clips
    from stmocap.models.body.model import load_body_model
    from stmocap.models.temporal.taps import Taps, save_taps
    from stmocap.training.taps import TapsFitConfig, film_clips, fit_clips
    from tqdm import tqdm

    from stmocap import __version__
    from stmocap.cache import cache_root
    from stmocap.cli import UserError
    from stmocap.commands.run import pipeline_config
    from stmocap.config import build_config

    cfg = pipeline_config(args)
    fit = build_config(TapsFitConfig, args, args.config, "fit_taps")
    if cfg.perframe.profile != "lite":
        raise UserError("fit-taps fits the lite profile's smoother: use --profile lite")
    names = select_clips(fit.clips, load_motions())
    cache = cache_root() / "closed-loop"
    cache.mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(names), desc="fit-taps", unit="clip", disable=not args.progress) as bar:
        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        clips = film_clips(cfg, fit, cache, step)
    taps, meta = fit_clips(clips, fit, load_body_model(cfg.body.smpl), cfg.plan.lookahead)
    meta |= {"command": "stmocap " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
             "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
             "stmocap": __version__}
    save_taps(args.out, Taps(taps.weights, taps.fps, meta, taps.lookahead))
    m = meta["metrics_on_fit_clips"]
    print(f"wrote {args.out}: {len(taps.weights)} taps fitted on {meta['frames']} frames of "
          f"{len(clips)} clips; on them MPJPE / ACC-ERR raw {m['raw']['mpjpe']:.1f} / "
          f"{m['raw']['accel']:.1f}, One-Euro {m['one-euro']['mpjpe']:.1f} / "
          f"{m['one-euro']['accel']:.1f}, taps {m['taps']['mpjpe']:.1f} / {m['taps']['accel']:.1f}")
    return 0


def add_fit_taps_parser(sub: argparse._SubParsersAction) -> None:
    from stmocap.training.taps import TapsFitConfig

    from stmocap.commands.run import add_pipeline_options

    p = sub.add_parser(
        "fit-taps", help="fit the learned linear smoother (--filter taps) on training motions",
        description="Film each clip as `stmocap eval --closed-loop` does (renders cached in "
                    "$STMOCAP_CACHE/closed-loop), run the lite per-frame stages, and fit the taps of "
                    "a linear smoother of the per-frame estimates to the truth, minimising "
                    "MPJPE + λ·ACC-ERR (docs/training.md, \"Learned causal taps\"). The taps read "
                    "--lookahead frames ahead (default 0: causal). Writes a JSON taps file for "
                    "`stmocap run --filter taps --taps FILE --lookahead L`, with the clips, λ and "
                    "raw / One-Euro (at the same lookahead) / taps scores on those clips.")
    p.add_argument("--out", type=Path, required=True, help="the taps file (.json) to write")
    add_pipeline_options(p)
    add_dataclass_options(p, TapsFitConfig)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar (default: on)")
    p.set_defaults(func=cmd_fit_taps)


def add_train_virtual_parser(sub: argparse._SubParsersAction) -> None:
    from stmocap.training.virtual import VirtualConfig

    from stmocap.commands.run import add_pipeline_options

    p = sub.add_parser(
        "train-virtual", help="make unrendered lite-profile training pairs from rendered ones",
        description="Fit a regressor from the truth of rendered training tables to BlazePose's "
                    "features, then turn and time-warp each table's truth motions into new "
                    "sequences whose virtual BlazePose outputs (regressor + BlazePose's measured "
                    "noise) go through the lite per-frame stage, as `stmocap train-data` tables "
                    "(docs/training.md, \"Unrendered pairs\"). No rendering, no BlazePose.")
    p.add_argument("--out", type=Path, required=True, help="the .npz to write (and a .json beside it)")
    p.add_argument("--from", dest="tables", type=Path, action="append", required=True,
                   help="a `stmocap train-data` table (repeatable); only its training clips' truth is used")
    add_pipeline_options(p)
    add_dataclass_options(p, VirtualConfig)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar (default: on)")
    p.set_defaults(func=cmd_train_virtual)


def add_train_data_parser(sub: argparse._SubParsersAction) -> None:
    from stmocap.training.generate import GenerateConfig

    from stmocap.commands.run import add_pipeline_options

    p = sub.add_parser(
        "train-data", help="make lite-profile training pairs from the rendered motion-capture clips",
        description="Render each shipped clip from --views camera placements, run BlazePose + IK on "
                    "the video and write a stmocap feature database (.npz: BlazePose features, IK "
                    "initialisation, truth; docs/training.md) for `stmocap train`. Renders are cached "
                    "in $STMOCAP_CACHE/closed-loop.")
    p.add_argument("--out", type=Path, required=True, help="the .npz to write")
    add_pipeline_options(p)
    add_dataclass_options(p, GenerateConfig)
    p.add_argument("--occluders", type=int, default=0, help="moving rectangles over each clip (default: 0)")
    p.add_argument("--background", choices=["plain", "noise"], default="noise",
                   help="background behind the rendered person (default: noise)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar (default: on)")
    p.set_defaults(func=cmd_train_data)
