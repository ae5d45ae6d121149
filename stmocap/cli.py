"""The ``stmocap`` command. Subcommands are added as the features behind them work.

Errors the user can fix (missing files, bad options) print one line, without a traceback, and
exit with status 2.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from stmocap._version import __version__
from stmocap.config import ConfigError, add_dataclass_options, build_config
from stmocap.engines.base import EngineError
from stmocap.optional import MissingDependencyError
from stmocap.validate import non_negative_int, positive_int


class UserError(Exception):
    """An error the user can fix; printed as one line."""


def _cmd_version(args: argparse.Namespace) -> int:
    import numpy
    import torch

    print(f"stmocap {__version__}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}")
    print(f"cuda available: {torch.cuda.is_available()}")
    return 0


def _cmd_inspect_temporal(args: argparse.Namespace) -> int:
    import torch

    from stmocap.evaluation.timing import time_calls
    from stmocap.models.temporal.config import PRESETS, TemporalNetConfig
    from stmocap.models.temporal.network import TemporalNet, parameter_counts

    cfg = build_config(TemporalNetConfig, args, args.config, "temporal", base=PRESETS[args.preset])
    if args.threads:
        torch.set_num_threads(args.threads)
    net = TemporalNet(cfg).eval()
    counts = parameter_counts(net)
    print(f"temporal network, preset '{args.preset}' (W={cfg.window}, Γ3={cfg.gamma3}, "
          f"LSTM {cfg.lstm_layers}×{cfg.lstm_hidden})")
    for name, n in counts.items():
        print(f"  {name:<10} {n:>13,d} parameters")
    for name, child in net.sta.named_children():
        print(f"    sta.{name:<8} {sum(p.numel() for p in child.parameters()):>11,d}")
    if args.time:
        B = args.batch
        feats = torch.randn(B, cfg.window, *cfg.feat_shape)
        pose = torch.randn(B, cfg.window, cfg.pose_dim)
        cam = torch.randn(B, cfg.window, 3)
        with torch.inference_mode():
            stats = time_calls(lambda: net(feats, pose, cam), calls=args.time, warmup=2)
        print(f"forward, batch {B} × {cfg.window} frames, CPU fp32, {torch.get_num_threads()} "
              f"threads ({platform.processor() or platform.machine()}): {stats.line()}")
    return 0


def _cmd_inspect_body(args: argparse.Namespace) -> int:
    import torch

    from stmocap.evaluation.timing import time_calls
    from stmocap.models.body.model import load_body_model
    from stmocap.models.body.smpl_file import BodyModelError

    try:
        if str(args.model) == "synthetic":
            from stmocap.models.body.model import LBSBody, SmplxBody
            from stmocap.models.body.synthetic import make_synthetic_body

            body = (SmplxBody if args.backend == "smplx" else LBSBody)(make_synthetic_body())
        else:
            body = load_body_model(args.model, args.backend)
    except BodyModelError as exc:
        raise UserError(str(exc)) from exc
    print(f"{body.data_source}: {body.num_vertices} vertices, {len(body.faces)} faces, "
          f"{len(body.parents)} joints, {body.num_betas} shape coefficients ({args.backend})")
    eye = torch.eye(3).expand(args.batch, len(body.parents), 3, 3)
    betas = torch.zeros(args.batch, body.num_betas)
    with torch.inference_mode():
        stats = time_calls(lambda: body(eye, betas), calls=args.time)
    print(f"forward, batch {args.batch}: {stats.line()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stmocap",
        description="Real-time 3D human motion capture: video in, SMPL body meshes out "
                    "(live viewer and ZeroMQ stream).",
    )
    parser.add_argument("--version", action="version", version=f"stmocap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("version", help="print versions of stmocap, Python, torch and numpy")
    p.set_defaults(func=_cmd_version)

    inspect = sub.add_parser("inspect", help="describe and time a model (parameter counts, CPU speed)")
    isub = inspect.add_subparsers(dest="what", metavar="WHAT", required=True)

    from stmocap.models.temporal.config import PRESETS, TemporalNetConfig

    t = isub.add_parser(
        "temporal",
        help="the paper's temporal network (STA + regressor + LSTM)",
        description="Build the temporal network with random weights, print parameter counts per "
                    "module and optionally time its forward pass. Sizes come from a preset, then "
                    "a [temporal] table in --config, then options.",
    )
    t.add_argument("--preset", choices=sorted(PRESETS), default="full", help="size preset (default: full)")
    t.add_argument("--config", type=Path, help="TOML file with a [temporal] table of options")
    t.add_argument("--time", type=non_negative_int, default=0, metavar="N",
                   help="time N forward passes (default: 0)")
    t.add_argument("--batch", type=positive_int, default=1, help="windows per forward pass (default: 1)")
    t.add_argument("--threads", type=non_negative_int, default=0,
                   help="torch CPU threads (default: torch's)")
    add_dataclass_options(t, TemporalNetConfig)
    t.set_defaults(func=_cmd_inspect_temporal)

    b = isub.add_parser("body", help="a body model in SMPL's format (file or folder)")
    b.add_argument("--model", type=Path, default=Path("free"),
                   help="SMPL_NEUTRAL.pkl, a folder holding it (or smpl/SMPL_NEUTRAL.pkl), 'free' for "
                        "the built-in free body (default) or 'synthetic' for the procedural test body")
    b.add_argument("--backend", choices=["lbs", "smplx"], default="lbs",
                   help="lbs: stmocap's own skinning; smplx: the reference package (default: lbs)")
    b.add_argument("--batch", type=positive_int, default=1, help="bodies per forward pass (default: 1)")
    b.add_argument("--time", type=positive_int, default=10, metavar="N",
                   help="timed forward passes (default: 10)")
    b.set_defaults(func=_cmd_inspect_body)

    from stmocap.commands import bench, bridge, evaluate, export, models, motion, render, run, view

    run.add_parsers(sub)
    export.add_parsers(sub)
    bench.add_parser(sub)
    evaluate.add_parser(sub)
    render.add_parser(sub)
    view.add_parsers(sub)  # after run: adds run --view
    motion.add_parser(sub)
    bridge.add_parser(sub)
    models.add_parser(sub)
    from stmocap.training.cli import (
        add_fit_taps_parser,
        add_train_data_parser,
        add_train_parser,
        add_train_release_parser,
        add_train_virtual_parser,
    )

    add_train_parser(sub)
    add_train_data_parser(sub)
    add_train_virtual_parser(sub)
    add_train_release_parser(sub)
    add_fit_taps_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    import zmq

    from stmocap.realtime.graph import GraphError
    from stmocap.realtime.security import SecurityError
    from stmocap.realtime.sources import SourceError
    from stmocap.realtime.stages.base import StageError

    # OSError: files and folders the user named or the cache (missing, unwritable, full disk);
    # ZMQError: an endpoint the system refuses (address in use, unknown interface).
    expected = (UserError, ConfigError, ValueError, EngineError, MissingDependencyError,
                SourceError, GraphError, SecurityError, TimeoutError, StageError, OSError,
                zmq.ZMQError)
    try:
        return int(args.func(args))
    except expected as exc:
        print(f"stmocap: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stmocap: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
