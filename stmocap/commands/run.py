"""``stmocap run``, ``stmocap listen`` and ``stmocap keys``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from stmocap.config import add_dataclass_options, build_config


def _section_classes() -> dict[str, type]:
    """Each stage's config class by its PipelineConfig field name (= its TOML table)."""
    import typing

    from stmocap.realtime.pipeline import PipelineConfig

    return dict(typing.get_type_hints(PipelineConfig))


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML file with tables [source], [plan], [smoothing], "
                   "[perframe], [temporal], [body], [camera], [publish], [graph]")
    for cls in _section_classes().values():
        add_dataclass_options(p, cls)


def pipeline_config(args: argparse.Namespace) -> Any:
    from stmocap.realtime.pipeline import PipelineConfig

    parts = {name: build_config(cls, args, args.config, name)
             for name, cls in _section_classes().items()}
    return PipelineConfig(**parts)


class StatusLine:
    """One live line on a terminal (a line per update when output is not a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def __call__(self, s: dict[str, Any]) -> None:
        lat = s.get("latency_ms", {})
        rejected = sum((s.get("rejected") or {}).values())
        text = (f"{s.get('fps', 0):6.1f} fps | latency p50 {lat.get('p50', 0):6.1f} ms "
                f"p95 {lat.get('p95', 0):6.1f} ms | frames {s.get('frames', 0)} | dropped "
                f"{s.get('dropped', 0)} | rejected {rejected}")
        print(("\r" + text) if self.tty else text, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)

    def end(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.sources import open_source

    cfg = pipeline_config(args)
    open_source(cfg.source).close()  # fail fast, in one line, on a bad --source
    status = StatusLine()
    print(f"publishing on {cfg.publish.endpoint} (topics pose, mesh, stats); Ctrl-C stops",
          file=sys.stderr)
    result = run_graph(cfg, on_stats=status)
    status.end()
    s = result.stats
    print(f"{'stopped' if result.interrupted else 'done'}: {s.get('frames', 0)} frames in "
          f"{result.wall_s:.1f} s from {result.source.get('description', cfg.source.source)}; "
          f"dropped {s.get('dropped', 0)}, rejected {sum((s.get('rejected') or {}).values())}",
          file=sys.stderr)
    if result.interrupted:  # skip the interpreter's teardown (≈1 s with torch loaded): Ctrl-C ends
        sys.stderr.flush()  # a run within 2 s (docs/reliability.md); every process is already gone
        sys.stdout.flush()
        os._exit(130)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from stmocap.realtime.security import create_keys

    server, client = create_keys(args.folder, args.client)
    print(f"server secret: {server}\nclient secret: {client}\n"
          f"run:    stmocap run --endpoint tcp://0.0.0.0:5556 --keys {args.folder} …\n"
          f"listen: stmocap listen tcp://HOST:5556 --keys {args.folder}  (copy server.key and "
          f"clients/{args.client}.key_secret to the client)")
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    import zmq

    from stmocap.realtime.messages import MessageError, decode
    from stmocap.realtime.security import secure_client

    topics = [t.strip() for t in args.topics.split(",") if t.strip()]
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.SUB)
    if args.keys:
        secure_client(sock, args.keys, args.client)
    sock.connect(args.endpoint)
    for t in topics:
        sock.subscribe(t.encode())
    counts: dict[str, int] = defaultdict(int)
    recorded: dict[str, list[Any]] = defaultdict(list)
    faces: np.ndarray | None = None
    last_seq: dict[int, int] = {}
    gaps = bad = 0
    latency: list[float] = []
    deadline = time.monotonic() + args.timeout if args.timeout else None
    next_print = time.monotonic() + 1.0
    ended = False
    try:
        while not ended:
            if args.count and counts["pose"] >= args.count:
                break
            wait = 200 if deadline is None else max(0, min(200, int((deadline - time.monotonic()) * 1000)))
            if deadline is not None and wait == 0:
                break
            if sock.poll(wait):
                frames = sock.recv_multipart(copy=False)
                topic = bytes(frames[0].buffer).decode(errors="replace")
                try:
                    msg = decode(frames[1:])
                except MessageError:
                    bad += 1
                    continue
                counts[topic] += 1
                if topic == "pose":
                    prev = last_seq.get(msg.track)
                    if prev is not None and msg.seq != prev + 1:
                        gaps += 1
                    last_seq[msg.track] = msg.seq
                    latency.append((time.monotonic_ns() - msg.t_capture_ns) / 1e6)
                    if args.record:
                        row = {k: np.array(v) for k, v in msg.arrays.items()}
                        row.update(seq=np.int64(msg.seq), track=np.int64(msg.track),
                                   t_capture_ns=np.int64(msg.t_capture_ns))
                        recorded["pose"].append(row)
                elif topic == "mesh" and args.record:
                    recorded["mesh"].append(np.array(msg.arrays["vertices"]))
                elif topic == "mesh.faces":
                    faces = np.array(msg.arrays["faces"])
                elif topic == "stats" and msg.meta.get("eos"):
                    ended = True
            if time.monotonic() >= next_print:
                next_print = time.monotonic() + 1.0
                lat = f"{np.median(latency[-100:]):.1f} ms" if latency else "-"
                print(f"received {dict(counts)} | seq gaps {gaps} | malformed {bad} | "
                      f"capture→here {lat} (same host only)", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close(0)
    print(f"received {dict(counts)}; seq gaps {gaps}; malformed {bad}"
          f"{'; stream ended' if ended else ''}", file=sys.stderr)
    if args.record:
        _save_record(args.record, recorded, faces)
    return 0


def _save_record(path: Path, recorded: dict[str, list[Any]], faces: np.ndarray | None) -> None:
    out: dict[str, np.ndarray] = {}
    rows = recorded.get("pose", [])
    if rows:
        for key in rows[0]:
            out[key] = np.stack([r[key] for r in rows])
    if recorded.get("mesh"):
        out["vertices"] = np.stack(recorded["mesh"])
    if faces is not None:
        out["faces"] = faces
    np.savez(path, **out)
    print(f"recorded {len(rows)} poses to {path}", file=sys.stderr)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "run", help="capture → per-frame → windows → temporal → stitch → body → publish, live",
        description="Run the real-time graph on a source and publish SMPL bodies over ZeroMQ "
                    "(topics pose, mesh, stats; see docs/protocol.md). Latency grows by "
                    "lookahead/fps; --stride must be <= --lookahead + 1.")
    add_pipeline_options(r)
    r.set_defaults(func=cmd_run)

    k = sub.add_parser("keys", help="create CURVE keys to encrypt and authenticate the stream")
    k.add_argument("folder", type=Path, help="folder to write server and client keys into")
    k.add_argument("--client", default="client", help="client key name (default: client)")
    k.set_defaults(func=cmd_keys)

    ls = sub.add_parser("listen", help="reference client: print a live summary, optionally record",
                        description="Subscribe to a stmocap stream and summarise what arrives; "
                                    "--record saves poses (and meshes) to .npz.")
    ls.add_argument("endpoint", help="e.g. tcp://127.0.0.1:5556")
    ls.add_argument("--topics", default="pose,stats", help="comma list of pose, mesh, stats "
                    "(default: pose,stats)")
    ls.add_argument("--record", type=Path, help="save what arrives to this .npz on exit")
    ls.add_argument("--count", type=int, default=0, help="stop after N poses (default: no limit)")
    ls.add_argument("--timeout", type=float, default=0.0, help="stop after S seconds (default: none)")
    ls.add_argument("--keys", type=Path, help="folder from `stmocap keys` for an encrypted stream")
    ls.add_argument("--client", default="client", help="client key name (default: client)")
    ls.set_defaults(func=cmd_listen)
