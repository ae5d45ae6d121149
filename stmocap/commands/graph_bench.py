"""``stmocap bench`` (graph mode): throughput, latency, per-stage costs, graph overhead."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from stmocap.evaluation.timing import percentile


def _latency_table(records: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [r["latency_ms"] for r in records]
    stages: dict[str, list[float]] = {}
    for r in records:
        for k, v in r["stage_ms"].items():
            stages.setdefault(k, []).append(v)
    span = (records[-1]["t_publish_ns"] - records[0]["t_publish_ns"]) / 1e9 if len(records) > 1 else 0
    return {
        "frames": len(records),
        "fps": (len(records) - 1) / span if span > 0 else 0.0,
        "latency_ms": {q: percentile(lat, p) for q, p in
                       (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "stage_ms": {k: {"p50": percentile(v, 50), "p95": percentile(v, 95)}
                     for k, v in stages.items()},
    }


def _plot(records: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(records[0]["stage_ms"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    a.boxplot([[r["stage_ms"].get(s, 0.0) for r in records] for s in stages], showfliers=False)
    a.set_xticks(range(1, len(stages) + 1), stages, rotation=30)
    a.set_ylabel("ms (time since the previous stage)")
    a.set_title("per-stage latency")
    t0 = records[0]["t_capture_ns"]
    b.plot([(r["t_capture_ns"] - t0) / 1e9 for r in records], [r["latency_ms"] for r in records],
           lw=0.8)
    b.set_xlabel("capture time (s)")
    b.set_ylabel("capture → publish (ms)")
    b.set_title("end-to-end latency per frame")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _markdown(graph: dict[str, Any], loop: dict[str, Any], info: dict[str, Any]) -> str:
    def row(name: str, t: dict[str, Any]) -> str:
        lat = t["latency_ms"]
        return (f"| {name} | {t['frames']} | {t['fps']:.1f} | {lat['p50']:.2f} | {lat['p95']:.2f} | "
                f"{lat['p99']:.2f} | {lat['max']:.2f} |")

    fps_ratio = graph["fps"] / max(loop["fps"], 1e-9)
    lat_ratio = graph["latency_ms"]["p50"] / max(loop["latency_ms"]["p50"], 1e-9)
    lines = [f"Measured {info['date']} on {info['machine']}; source {info['source']}; "
             f"{info['dropped']} frames dropped; {info['rejected']} messages rejected.", "",
             f"Command: `{info['command']}`", "",
             "| run | frames | FPS | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|",
             row("ZeroMQ graph", graph), row("same stages, one plain loop", loop), "",
             f"Graph overhead: throughput ratio graph/loop = {fps_ratio:.2f}, "
             f"median latency ratio = {lat_ratio:.2f}.",
             "", "| stage | graph p50 ms | graph p95 ms | loop p50 ms |", "|---|---|---|---|"]
    for k, v in graph["stage_ms"].items():
        lp = loop["stage_ms"].get(k, {}).get("p50", float("nan"))
        lines.append(f"| {k} | {v['p50']:.3f} | {v['p95']:.3f} | {lp:.3f} |")
    return "\n".join(lines)


def cmd_bench_graph(args: argparse.Namespace) -> int:
    import datetime as dt

    from stmocap.commands.bench import machine_description, write_section
    from stmocap.commands.run import StatusLine, pipeline_config
    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.inline import run_inline
    from stmocap.realtime.sources import open_source

    cfg = pipeline_config(args)
    if not hasattr(args, "source"):
        raise ValueError("stmocap bench needs --source (a video file for repeatable numbers) or "
                         "--engines for the engine benchmark")
    open_source(cfg.source).close()
    status = StatusLine()
    result = run_graph(cfg, on_stats=status, keep_records=True)
    status.end()
    if len(result.records) < 2:
        raise ValueError("too few frames were published to measure anything")
    loop = run_inline(cfg)
    graph_t, loop_t = _latency_table(result.records), _latency_table(loop["records"])
    info = {"date": dt.date.today().isoformat(), "machine": machine_description(),
            "source": result.source.get("description", cfg.source.source),
            "dropped": result.stats.get("dropped", 0),
            "rejected": sum((result.stats.get("rejected") or {}).values()),
            "command": "stmocap " + " ".join(shlex.quote(a) for a in sys.argv[1:])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "graph.json").write_text(json.dumps(
        {"info": info, "graph": graph_t, "loop": loop_t, "records": result.records}, indent=1))
    md = _markdown(graph_t, loop_t, info)
    (args.out / "graph.md").write_text(md + "\n")
    _plot(result.records, args.out / "graph.png", f"{info['source']} — {info['machine']}")
    print(md)
    print(f"wrote {args.out}/graph.json, graph.md, graph.png", file=sys.stderr)
    if args.markdown:
        image = os.path.relpath(args.out / "graph.png", args.markdown.resolve().parent)
        write_section(args.markdown, md + f"\n\n![graph latency]({image})",
                      key=args.section, heading=f"## `stmocap bench --source` ({args.section})")
    return 0
