"""``stmocap bench --engines …``: time each model on each backend side by side."""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from stmocap.evaluation.timing import TimingStats, time_calls
from stmocap.validate import non_negative_int, positive_int


@dataclass(frozen=True)
class BenchRow:
    model: str
    preset: str
    backend: str
    precision: str
    device: str
    batch: int
    stats: TimingStats
    rel_err: float | None  # max |out − torch out| / max(max |torch out|, floor), same feed


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def run_bench(args: argparse.Namespace) -> list[BenchRow]:
    from stmocap.engines.base import EngineError
    from stmocap.engines.factory import open_model_engine
    from stmocap.export.catalog import CATALOG
    from stmocap.export.parity import SCALE_FLOOR

    backends = [b.strip() for b in args.engines.split(",") if b.strip()]
    names = sorted(CATALOG) if args.model == "all" else [args.model]
    rows = []
    device = getattr(args, "device", "cpu")  # pipeline options are absent unless given
    cuda = device.startswith("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        wanted = [p.strip() for p in getattr(args, "preset", "tiny").split(",") if p.strip()]
        jobs = []
        for name in names:
            have = CATALOG[name].presets
            jobs += [(name, p) for p in wanted if p in have] or [(name, have[0])]
        for name, preset in jobs:
            reference: dict[str, torch.Tensor] | None = None
            for backend in backends:
                try:
                    engine = open_model_engine(name, preset, backend=backend, device=device,
                                               precision="fp16" if args.fp16 else "fp32",
                                               cuda_graphs=args.cuda_graphs and backend == "torch",
                                               max_batch=max(args.batch, 16), cache=Path(tmp))
                except EngineError as exc:
                    print(f"skip {name}-{preset} on {backend}: {exc}", file=sys.stderr)
                    continue
                with engine:
                    feed = engine.example_feed({"batch": args.batch})

                    def call(engine=engine, feed=feed) -> None:
                        engine(feed)
                        if cuda:
                            torch.cuda.synchronize()

                    stats = time_calls(call, calls=args.calls, warmup=args.warmup)
                    outputs = {k: v.detach().float().cpu() for k, v in engine(feed).items()}
                rel_err = None
                if backend == "torch":
                    reference = outputs
                elif reference is not None:
                    rel_err = max(float((outputs[k] - r).abs().max() / r.abs().max().clamp_min(SCALE_FLOOR))
                                  for k, r in reference.items())
                where = device + (" +graphs" if args.cuda_graphs and backend == "torch" else "")
                rows.append(BenchRow(name, preset, backend, "fp16" if args.fp16 else "fp32", where,
                                     args.batch, stats, rel_err))
                print(f"{name}-{preset} {backend:<13} {stats.line()}", file=sys.stderr)
    return rows


def to_markdown(rows: list[BenchRow], command: str, weights: str = "random-weights") -> str:
    when = dt.date.today().isoformat()
    lines = [f"Measured {when} on {machine_description()} ({weights}).", "",
             f"Command: `{command}`", "",
             "| model | backend | precision | device | batch | median ms | p95 ms | vs first "
             "| rel. error vs torch |",
             "|---|---|---|---|---|---|---|---|---|"]
    first: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (r.model, r.preset)
        base = first.setdefault(key, r.stats.median_ms)
        lines.append(f"| {r.model}-{r.preset} | {r.backend} | {r.precision} | {r.device} | {r.batch} "
                     f"| {r.stats.median_ms:.2f} | {r.stats.p95_ms:.2f} | "
                     f"{r.stats.median_ms / base:.2f}× | "
                     f"{'—' if r.rel_err is None else f'{r.rel_err:.1e}'} |")
    return "\n".join(lines)


def write_section(path: Path, body: str, key: str = "engines",
                  heading: str = "## Engines side by side (`stmocap bench --engines`)") -> None:
    """Replace the text between the ``key`` bench markers in ``path`` (append if absent)."""
    start, end = f"<!-- stmocap-bench:{key}:start -->", f"<!-- stmocap-bench:{key}:end -->"
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    path.write_text(text)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run_bench(args)
    if not rows:
        raise ValueError("no backend could run; see the messages above")
    command = "stmocap " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    table = to_markdown(rows, command)
    print(table)
    if args.markdown:
        write_section(args.markdown, table)
        print(f"wrote the table to {args.markdown}", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from stmocap.commands.graph_bench import cmd_bench_graph
    from stmocap.commands.run import add_pipeline_options

    p = sub.add_parser(
        "bench", help="benchmark the graph on a source, or (--engines) models on engine backends",
        description="Without --engines: run the graph on --source for --frames frames and report "
                    "throughput, capture→publish latency percentiles, per-stage latency, drops, "
                    "and the graph's overhead against the same stages in one plain loop (JSON, "
                    "Markdown and PNG in --out). With --engines: time each catalogue model on each "
                    "backend (random weights; --preset and --device apply).")
    add_pipeline_options(p)
    p.add_argument("--out", type=Path, default=Path("bench-out"),
                   help="folder for graph.json, graph.md, graph.png (default: bench-out)")
    p.add_argument("--markdown", type=Path, help="also write the table into this Markdown file "
                                                 "(e.g. docs/benchmarks.md)")
    p.add_argument("--section", default="graph",
                   help="name of the section the table replaces in --markdown (default: graph)")
    e = p.add_argument_group("engine benchmark (--engines)")
    e.add_argument("--engines", help="comma list of torch, onnxruntime, tensorrt, tensorrt-rtx")
    e.add_argument("--model", default="all", help="catalogue name or all (default: all)")
    e.add_argument("--batch", type=positive_int, default=1, help="batch (tracks) per call (default: 1)")
    e.add_argument("--calls", type=positive_int, default=50, help="timed calls (default: 50)")
    e.add_argument("--warmup", type=non_negative_int, default=5,
                   help="untimed calls first (default: 5)")
    e.add_argument("--fp16", action="store_true", help="half precision (fp16 ONNX / engines)")
    e.add_argument("--cuda-graphs", action="store_true", help="torch backend: replay CUDA graphs")
    e.add_argument("--threads", type=non_negative_int, default=0,
                   help="torch CPU threads (default: torch's)")
    p.set_defaults(func=lambda args: cmd_bench(args) if args.engines else cmd_bench_graph(args))
