"""``stmocap export`` and ``stmocap engines``: make and list deployable artifacts."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from stmocap.engines.artifact import Precision
from stmocap.validate import Range, arg_type, positive_int

TARGETS = ("onnx", "tensorrt", "tensorrt-rtx")


@dataclass(frozen=True)
class ExportResult:
    model: str
    preset: str
    kind: str
    path: Path
    note: str


def parse_targets(text: str) -> list[str]:
    targets = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets:
        raise ValueError(f"--to takes a comma list of {list(TARGETS)}, got {text!r}")
    if "onnx" not in targets:
        targets.insert(0, "onnx")  # engines are built from the ONNX file
    return targets


def export_one(name: str, preset: str, targets: list[str], precision: Precision, out: Path,
               checkpoint: Path | None, opset: int, parity: bool, build_kw: dict,
               bar: tqdm | None = None) -> list[ExportResult]:
    """Export one catalogue model to ONNX (+ parity) and build the requested engines."""
    from stmocap.export.catalog import build_model
    from stmocap.export.onnx_export import OnnxOptions, export_onnx
    from stmocap.export.parity import check_parity, parity_summary
    from stmocap.export.tensorrt_build import BuildOptions, build_engine

    def step(msg: str) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{name}-{preset}: {msg}")

    step("building model")
    built = build_model(name, preset, checkpoint)
    onnx_path = out / f"{name}-{preset}.{precision}.onnx"
    step("exporting ONNX")
    export_onnx(built, onnx_path, OnnxOptions(opset=opset, precision=precision))
    results = []
    note = "parity not checked"
    if parity:
        step("checking parity")
        summary = parity_summary(check_parity(built, onnx_path, precision=precision))
        worst = max(v["relative"] for v in summary.values())
        note = f"parity vs torch: worst relative error {worst:.1e}"
        _record_parity(onnx_path, summary)
    results.append(ExportResult(name, preset, "onnx", onnx_path, note))
    if bar is not None:
        bar.update(1)
    for target in targets:
        if target == "onnx":
            continue
        step(f"building {target} engine")
        engine = build_engine(onnx_path, BuildOptions(library=target, precision=precision, **build_kw),
                              progress=bar is None)
        key = engine.name.split(".")[-2]
        results.append(ExportResult(name, preset, target, engine, f"engine in the cache, key {key}"))
        if bar is not None:
            bar.update(1)
    return results


def _record_parity(onnx_path: Path, summary: dict) -> None:
    from dataclasses import replace

    from stmocap.engines.artifact import read_sidecar, write_sidecar

    meta = read_sidecar(onnx_path)
    write_sidecar(onnx_path, replace(meta, parity=summary))


def cmd_export(args: argparse.Namespace) -> int:
    from stmocap.export.catalog import CATALOG

    targets = parse_targets(args.to)
    if not args.min_batch <= args.opt_batch <= args.max_batch:
        raise ValueError(f"engine batch sizes must satisfy --min-batch <= --opt-batch <= --max-batch "
                         f"(got {args.min_batch}, {args.opt_batch}, {args.max_batch})")
    names = sorted(CATALOG) if args.model == "all" else [args.model]
    if args.model != "all" and args.model not in CATALOG:
        raise ValueError(f"unknown model {args.model!r}; choose from {sorted(CATALOG)} or all")
    jobs = []
    for name in names:
        presets = CATALOG[name].presets
        preset = args.preset or presets[0]
        if preset not in presets:
            if args.model != "all":
                raise ValueError(f"model {name!r} has presets {list(presets)}, not {preset!r}")
            preset = presets[0]  # with --model all, a preset applies where the model has it
        jobs.append((name, preset))
    build_kw = {"min_batch": args.min_batch, "opt_batch": args.opt_batch,
                "max_batch": args.max_batch, "cache_dir": args.cache}
    results: list[ExportResult] = []
    with tqdm(total=len(jobs) * len(targets), desc="export", unit="artifact",
              disable=args.quiet) as bar:
        for name, preset in jobs:
            checkpoint = args.checkpoint if len(jobs) == 1 else None
            results += export_one(name, preset, targets, args.precision, args.out, checkpoint,
                                  args.opset, not args.no_parity, build_kw, bar)
    for r in results:
        print(f"{r.model}-{r.preset} {r.kind:<13} {r.path}  ({r.note})")
    return 0


def cmd_engines(args: argparse.Namespace) -> int:
    from stmocap.export.tensorrt_build import default_cache_dir, list_engines

    cache = args.cache or default_cache_dir()
    entries = list_engines(cache)
    if not entries:
        print(f"no engines cached in {cache}")
        return 0
    print(f"engines in {cache}:")
    for path, meta in entries:
        if meta is None:
            print(f"  {path.name}  (unreadable metadata: delete and rebuild)")
        else:
            size = path.stat().st_size / 2**20
            print(f"  {path.name}  {meta.model}-{meta.preset} {meta.kind} {meta.precision} "
                  f"W={meta.window} gpu={meta.gpu} {size:.1f} MiB")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from stmocap.export.catalog import CATALOG

    models = ", ".join(f"{k} ({'/'.join(v.presets)}): {v.description}" for k, v in CATALOG.items())
    p = sub.add_parser(
        "export", help="export models to ONNX (checked against PyTorch) and TensorRT engines",
        description=f"Export to ONNX, check ONNX Runtime against PyTorch, and build engines. "
                    f"Models: {models}. Without --checkpoint the weights are random (fine for "
                    f"speed tests; labelled random-weights in the metadata).")
    p.add_argument("--model", default="all", help="catalogue name or 'all' (default: all)")
    p.add_argument("--preset", help="size preset (default: the model's first, e.g. tiny)")
    p.add_argument("--to", default="onnx", help="comma list of onnx, tensorrt, tensorrt-rtx "
                                                 "(default: onnx)")
    p.add_argument("--precision", choices=["fp32", "fp16"], default="fp32", help="(default: fp32)")
    p.add_argument("--checkpoint", type=Path, help="weights: temporal checkpoint or SMPL file")
    p.add_argument("--out", type=Path, default=Path("artifacts"), help="ONNX folder (default: artifacts)")
    p.add_argument("--cache", type=Path, help="engine cache (default: ~/.cache/stmocap/engines)")
    p.add_argument("--opset", type=arg_type(int, Range(17, 20)), default=18,
                   help="ONNX opset 17-20 (default: 18)")
    p.add_argument("--min-batch", type=positive_int, default=1, help="engine profile minimum (default: 1)")
    p.add_argument("--opt-batch", type=positive_int, default=4, help="engine profile optimum (default: 4)")
    p.add_argument("--max-batch", type=positive_int, default=16,
                   help="engine profile maximum (default: 16)")
    p.add_argument("--no-parity", action="store_true", help="skip the ONNX Runtime vs PyTorch check")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)

    e = sub.add_parser("engines", help="list cached TensorRT / TensorRT-RTX engines")
    e.add_argument("--cache", type=Path, help="engine cache (default: ~/.cache/stmocap/engines)")
    e.set_defaults(func=cmd_engines)
