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

from stmocap.config import add_dataclass_options, build_config, check_document
from stmocap.validate import arg_type, connect_endpoint, non_negative_float, non_negative_int


def _section_classes() -> dict[str, type]:
    """Each stage's config class by its PipelineConfig field name (= its TOML table)."""
    import typing

    from stmocap.realtime.pipeline import PipelineConfig

    return dict(typing.get_type_hints(PipelineConfig))


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML file with tables [source], [plan], [smoothing], "
                   "[perframe], [temporal], [body], [camera], [publish], [preview], [graph]")
    for cls in _section_classes().values():
        add_dataclass_options(p, cls)


def pipeline_config(args: argparse.Namespace, extra: dict[str, type] | None = None) -> Any:
    """The run's config from --config and options. The file is checked whole first: its tables
    are the pipeline's (and ``extra``'s, e.g. eval's [closed_loop])."""
    from stmocap.realtime.pipeline import PipelineConfig

    sections = _section_classes()
    if args.config is not None:
        check_document(args.config, {**sections, **(extra or {})})
    parts = {name: build_config(cls, args, args.config, name) for name, cls in sections.items()}
    cfg = PipelineConfig(**parts)
    check_combinations(cfg)
    from stmocap.cli import UserError
    from stmocap.realtime.pipeline import resolve_shipped_temporal

    try:  # lite + --temporal net without --checkpoint: the shipped weights for --lookahead
        resolved = resolve_shipped_temporal(cfg)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from stmocap.realtime.filters import FilterConfig

    mixing = resolved.temporal.temporal == "net" and resolved.smoothing.filter == "taps"
    if resolved.smoothing.taps_weight != FilterConfig().taps_weight and not mixing:
        raise UserError("--taps-weight mixes the taps into a temporal network's output, and here "
                        f"none is mixed (temporal {resolved.temporal.temporal}, filter "
                        f"{resolved.smoothing.filter}): drop it, or run a network with the taps "
                        "(e.g. --lookahead 2)")
    return resolved


def check_combinations(cfg: Any) -> None:
    """Options that are valid alone but not together; one line naming them."""
    from stmocap.cli import UserError

    t = cfg.temporal
    if t.precision == "fp16" and not t.device.startswith("cuda"):
        raise UserError(f"--precision fp16 needs --device cuda (engines on {t.device} run fp32)")
    from stmocap.realtime.pipeline import person_height_problem

    problem = person_height_problem(cfg.perframe)
    if problem:
        raise UserError(problem)
    if cfg.perframe.landmark_embedding:
        from stmocap.realtime.pipeline import landmark_embedding_for, resolve_shipped_temporal

        try:
            resolved = resolve_shipped_temporal(cfg)
        except ValueError:
            resolved = None  # the temporal options' own error is raised where they are checked
        if resolved is not None:
            try:
                landmark_embedding_for(resolved)
            except ValueError as exc:  # the option and the checkpoint disagree
                raise UserError(str(exc)) from exc
    if cfg.smoothing.taps is not None and cfg.smoothing.filter not in ("taps", "auto"):
        raise UserError(f"--taps is the smoother of --filter taps, not of --filter "
                        f"{cfg.smoothing.filter}: drop one of them")
    if cfg.smoothing.filter == "taps" or cfg.smoothing.taps is not None:
        from stmocap.models.temporal.taps import load_taps, taps_file, taps_problem

        plan = cfg.plan
        try:
            taps = load_taps(taps_file(cfg.smoothing.taps, plan.lookahead))
        except ValueError as exc:
            raise UserError(f"--taps: {exc}") from exc
        problem = taps_problem(taps, plan.lookahead, plan.stride)
        if problem:
            raise UserError(f"--taps: {problem}")
    if cfg.perframe.profile == "replay" and cfg.perframe.estimates is None:
        raise UserError("--profile replay needs --estimates FILE.npz (per-frame pose_6d, betas, cam)")
    if cfg.perframe.profile == "paper" and not cfg.perframe.random_weights:
        from stmocap.models.checkpoints import FILES

        for f in FILES:
            if f.key in ("hmr2", "densepose-cse"):
                path = f.path(getattr(cfg.perframe, "hmr2" if f.key == "hmr2" else "densepose"))
                if not path.is_file():
                    raise UserError(f"--profile paper needs {f.description}: {path} not found (pass "
                                    f"{f.option} PATH; `stmocap models --profile paper` says where to "
                                    "get it), or use --random-weights")
    for name in ("estimates", "detector"):
        path = getattr(cfg.perframe, name)
        if path is not None and not path.is_file():
            raise UserError(f"--{name} {path}: file not found")
    if cfg.body.smpl is not None and not cfg.body.smpl.exists():
        raise UserError(f"--smpl {cfg.body.smpl}: file or folder not found")
    keys = cfg.publish.keys
    if keys is not None and not keys.is_dir():
        raise UserError(f"--keys {keys}: folder not found (make one with `stmocap keys {keys}`)")


def probe_endpoint(endpoint: str) -> None:
    """Bind ``endpoint`` once and release it, so a port in use or a bad interface fails here, in
    one line, before anything starts."""
    import zmq

    from stmocap.cli import UserError

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    try:
        sock.bind(endpoint)
        sock.unbind(endpoint)
    except zmq.ZMQError as exc:
        raise UserError(f"cannot publish on {endpoint}: {exc}") from exc
    finally:
        sock.close(0)
        ctx.term()


class StatusLine:
    """One live line on a terminal (a line per update when output is not a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def __call__(self, s: dict[str, Any]) -> None:
        lat = s.get("latency_ms", {})
        rejected = sum((s.get("rejected") or {}).values())
        text = (f"{s.get('fps', 0):6.1f} fps | latency p50 {lat.get('p50', 0):6.1f} ms "
                f"p95 {lat.get('p95', 0):6.1f} ms | frames {s.get('frames', 0)} | dropped "
                f"{s.get('dropped', 0)} | rejected {rejected}{_count_text(s, ' | ')}")
        print(("\r" + text) if self.tty else text, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)

    def end(self) -> None:
        if self.tty:
            print(file=sys.stderr)


# Counters the stream's stats carry besides frames/dropped/rejected (see docs/reliability.md).
COUNTS = (("unreadable", "unreadable"), ("no_person", "no person"),
          ("more_people", "more people than followed"))


def _count_text(s: dict[str, Any], sep: str) -> str:
    return "".join(f"{sep}{label} {s[key]}" for key, label in COUNTS if s.get(key))


def cmd_run(args: argparse.Namespace) -> int:
    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.sources import open_source

    cfg = pipeline_config(args)
    open_source(cfg.source).close()  # fail fast, in one line, on a bad --source
    from stmocap.realtime.camera import check_camera

    check_camera(cfg.camera)  # … and on bad --intrinsics/--fov/--camera-height/--camera-pitch
    probe_endpoint(cfg.publish.endpoint)
    status = StatusLine()

    topics = "pose, mesh, stats" + (", preview" if cfg.preview.preview else "")

    def started(_: Any) -> None:  # every process is set up: the publisher is bound
        print(f"publishing on {cfg.publish.endpoint} (topics {topics}); Ctrl-C stops",
              file=sys.stderr)

    result = run_graph(cfg, on_stats=status, on_started=started)
    status.end()
    s = result.stats
    print(f"{'stopped' if result.interrupted else 'done'}: {s.get('frames', 0)} frames in "
          f"{result.wall_s:.1f} s from {result.source.get('description', cfg.source.source)}; "
          f"dropped {s.get('dropped', 0)}, rejected {sum((s.get('rejected') or {}).values())}"
          f"{_count_text(s, ', ')}", file=sys.stderr)
    if not s.get("frames") and s.get("no_person"):
        print(f"no person was found in any of the {s['no_person']} frames: nothing was published "
              "(is the person small, cut off or in the dark?)", file=sys.stderr)
    if s.get("more_people"):
        n = cfg.perframe.max_people
        followed = "one (--max-people N follows more)" if n == 1 else f"up to {n} (--max-people)"
        print(f"more people than followed were seen in {s['more_people']} frame(s); the lite "
              f"profile follows {followed}: the detector's highest-scoring people when tracking "
              "starts or restarts", file=sys.stderr)
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


TOPICS = ("pose", "mesh", "stats", "preview")


def key_name(text: str) -> None:
    """A key name becomes a file name: letters, digits, ``-``, ``_``, ``.`` (not leading)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", text):
        raise ValueError(f"must be letters, digits, '-', '_' or '.' (got {text!r})")


def parse_topics(text: str) -> list[str]:
    """``--topics``: a comma list of pose, mesh, stats, preview."""
    topics = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in topics if t not in TOPICS]
    if bad or not topics:
        raise ValueError(f"must be a comma list of {', '.join(TOPICS)} (got {text!r})")
    return topics


def check_topics(text: str) -> None:
    parse_topics(text)


def cmd_listen(args: argparse.Namespace) -> int:
    import uuid

    import zmq

    from stmocap.realtime.messages import MessageError, decode
    from stmocap.realtime.protocol_schema import HELLO_PREFIX
    from stmocap.realtime.protocol_schema import TOPICS as WIRE_TOPICS
    from stmocap.realtime.security import secure_client
    from stmocap.recording import Recorder, RecordError, header_fields

    topics = parse_topics(args.topics)
    if args.keys is not None and not args.keys.is_dir():
        raise ValueError(f"--keys {args.keys}: folder not found")
    recorder = Recorder(args.record) if args.record else None  # checks the destination first
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.SUB)
    try:
        if args.keys:
            secure_client(sock, args.keys, args.client)
        sock.connect(args.endpoint)
    except (zmq.ZMQError, OSError, ValueError):
        sock.close(0)
        if recorder is not None:
            recorder.close()
            recorder.partial.unlink(missing_ok=True)
        raise
    for t in topics:
        sock.subscribe(t.encode())
    if recorder is not None and "mesh" in topics:
        sock.subscribe(b"mesh.faces")
    sock.subscribe(HELLO_PREFIX + uuid.uuid4().hex.encode())  # after the topics (docs/protocol.md)
    expect_eos = {t for t in WIRE_TOPICS if any(t.startswith(p) for p in topics)}
    counts: dict[str, int] = defaultdict(int)
    gaps = GapCounter()
    bad = 0
    latency: list[float] = []
    deadline = time.monotonic() + args.timeout if args.timeout else None
    next_print = time.monotonic() + 1.0
    ended: set[str] = set()
    last_stats: float | None = None  # when the last heartbeat came, and its period
    period = 0.0
    gone = False
    preview_bytes = 0
    failure: RecordError | None = None
    try:
        while ended != expect_eos:
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
                gaps.add(topic, msg)
                if msg.kind == "eos":
                    ended.add(topic)
                    continue
                counts[topic] += 1
                if topic == "pose":
                    latency.append((time.monotonic_ns() - msg.t_capture_ns) / 1e6)
                    if recorder is not None:
                        row = {**header_fields(msg), **msg.arrays}
                        k = msg.meta.get("intrinsics")
                        if k:  # the pinhole each pose was placed with (docs/protocol.md)
                            row["intrinsics"] = np.array([k["fx"], k["fy"], k["cx"], k["cy"]])
                        recorder.add("pose", row)
                elif topic == "mesh" and recorder is not None:
                    recorder.add("mesh", {"vertices": msg.arrays["vertices"]})
                elif topic == "mesh.faces" and recorder is not None:
                    recorder.add("faces", {"faces": msg.arrays["faces"]})
                elif topic == "preview":
                    preview_bytes += msg.arrays["jpeg"].size  # counted, not recorded
                elif topic == "stats":
                    last_stats, period = time.monotonic(), float(msg.meta.get("period", 1.0))
            if last_stats is not None and time.monotonic() - last_stats > 3 * period:
                gone = True  # no heartbeat for three periods: the publisher is gone
                break
            if time.monotonic() >= next_print:
                next_print = time.monotonic() + 1.0
                lat = f"{np.median(latency[-100:]):.1f} ms" if latency else "-"
                print(f"received {dict(counts)} | {gaps.line()} | malformed {bad} | "
                      f"capture→here {lat} (same host only)", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    except RecordError as exc:
        failure = exc
    finally:
        sock.close(0)
    end = ("; stream ended" if ended == expect_eos else
           "; publisher gone (no stats heartbeat)" if gone else "")
    jpeg = (f"; preview JPEGs {preview_bytes / max(counts['preview'], 1) / 1024:.1f} KiB on average"
            if counts.get("preview") else "")
    print(f"received {dict(counts)}; {gaps.line()}; malformed {bad}{jpeg}{end}", file=sys.stderr)
    if recorder is not None:
        if failure is not None:
            recorder.close()
            raise failure
        poses, left_out = recorder.finish()
        note = f" (not saved, not in every pose or varying shape: {', '.join(left_out)})" \
            if left_out else ""
        print(f"recorded {poses} poses to {args.record}{note}", file=sys.stderr)
    return 0


class GapCounter:
    """Tells apart, per docs/protocol.md, messages lost by this client (``seq`` gaps per topic),
    frames dropped upstream and frames without a person (counters on pose and stats messages)."""

    def __init__(self) -> None:
        self.last_seq: dict[str, int] = {}
        self.lost = 0
        self.dropped = 0
        self.unreadable = 0
        self.no_person = 0

    def add(self, topic: str, msg: Any) -> None:
        prev = self.last_seq.get(topic)
        if prev is not None and msg.seq > prev + 1:
            self.lost += msg.seq - prev - 1
        self.last_seq[topic] = msg.seq
        if msg.kind in ("pose", "stats", "eos"):
            self.dropped = max(self.dropped, int(msg.meta.get("dropped", 0)))
            self.unreadable = max(self.unreadable, int(msg.meta.get("unreadable", 0)))
            self.no_person = max(self.no_person, int(msg.meta.get("no_person", 0)))

    def line(self) -> str:
        return (f"lost here {self.lost} | dropped upstream {self.dropped} | "
                f"unreadable {self.unreadable} | frames without a person {self.no_person}")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "run", help="capture → per-frame → windows → temporal → stitch → body → publish, live",
        description="Run the real-time graph on a source and publish SMPL bodies over ZeroMQ "
                    "(topics pose, mesh, stats, and with --preview the frames as JPEG; see "
                    "docs/protocol.md). Latency grows by "
                    "lookahead/fps; --stride must be <= --lookahead + 1.")
    add_pipeline_options(r)
    r.set_defaults(func=cmd_run)

    k = sub.add_parser("keys", help="create CURVE keys to encrypt and authenticate the stream")
    k.add_argument("folder", type=Path, help="folder to write server and client keys into")
    k.add_argument("--client", type=arg_type(str, key_name), default="client",
                   help="client key name (default: client)")
    k.set_defaults(func=cmd_keys)

    ls = sub.add_parser("listen", help="reference client: print a live summary, optionally record",
                        description="Subscribe to a stmocap stream and summarise what arrives; "
                                    "--record saves poses (and meshes) to .npz.")
    ls.add_argument("endpoint", type=arg_type(str, connect_endpoint),
                    help="e.g. tcp://127.0.0.1:5556 or ipc:///tmp/stmocap.sock")
    ls.add_argument("--topics", type=arg_type(str, check_topics), default="pose,stats",
                    help="comma list of pose, mesh, stats, preview (default: pose,stats; preview: "
                         "the JPEG frames of `run --preview`, counted, never recorded)")
    ls.add_argument("--record", type=Path, help="save what arrives to this .npz (written as it "
                    "arrives to OUT.npz.partial, finalised at the end; docs/reliability.md)")
    ls.add_argument("--count", type=non_negative_int, default=0,
                    help="stop after N poses (default: 0, no limit)")
    ls.add_argument("--timeout", type=non_negative_float, default=0.0,
                    help="stop after S seconds (default: 0, none)")
    ls.add_argument("--keys", type=Path, help="folder from `stmocap keys` for an encrypted stream")
    ls.add_argument("--client", type=arg_type(str, key_name), default="client",
                    help="client key name (default: client)")
    ls.set_defaults(func=cmd_listen)
