"""Preview benchmark (docs/benchmarks.md, viewer): the pipeline's rate with and without the preview.

    python scripts/bench_preview.py [--source demo] [--repeats 2] [--frames 0] [-- RUN OPTIONS…]

Runs ``stmocap run --source SOURCE --wait-subscribers 1`` (options after ``--`` are passed on)
in three ways, interleaved ``--repeats`` times (a, b, c, a, b, c, …) so that a noisy machine
spreads over all three:

a. without ``--preview``;
b. with ``--preview``, the subscriber reading ``pose`` and ``preview`` (JPEGs encoded and sent);
c. with ``--preview``, the subscriber reading ``pose`` only (nothing encoded: no demand).

The subscriber (in this process) reads every message; the rate is that of the published poses,
``(n - 1) / (last publish stamp - first)``, so start-up (model loading) is not counted. First, the
cost of one preview alone: ``encode_preview`` (scale to 640 wide, JPEG quality 80) on the source's
first 60 frames, in this process.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
import uuid

import msgpack
import numpy as np
import zmq


def _endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def one_run(source: str, preview: bool, read_preview: bool, frames: int,
            extra: list[str]) -> dict[str, float]:
    """One ``stmocap run``: published pose rate (FPS), capture → publish p50 (ms), previews."""
    ep = _endpoint()
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 100000)
    sock.connect(ep)
    topics = (b"pose", b"preview") if read_preview else (b"pose",)
    for t in topics:
        sock.subscribe(t)
    sock.subscribe(b"hello." + uuid.uuid4().hex.encode())
    publish, latency, jpeg = [], [], []
    ended: set[bytes] = set()

    def loop() -> None:
        deadline = time.monotonic() + 900
        while ended != set(topics) and time.monotonic() < deadline:
            if not sock.poll(100):
                continue
            topic, header, *buffers = sock.recv_multipart()
            h = msgpack.unpackb(header)
            if h["kind"] == "eos":
                ended.add(topic)
            elif h["kind"] == "pose":
                t = dict(h["stamps"])["publish"]
                publish.append(t)
                latency.append((t - h["t_capture_ns"]) / 1e6)
            elif h["kind"] == "preview":
                jpeg.append(len(buffers[0]))

    reader = threading.Thread(target=loop, daemon=True)
    reader.start()
    cmd = [sys.executable, "-m", "stmocap", "run", "--source", source, "--endpoint", ep,
           "--wait-subscribers", "1", *(["--frames", str(frames)] if frames else []),
           *(["--preview"] if preview else []), *extra]
    run = subprocess.run(cmd, capture_output=True, text=True)
    reader.join(30)
    sock.close(0)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    span = (publish[-1] - publish[0]) / 1e9
    return {"fps": (len(publish) - 1) / span, "latency_ms": float(np.median(latency)),
            "poses": len(publish), "previews": len(jpeg),
            "jpeg_kib": float(np.mean(jpeg)) / 1024 if jpeg else 0.0}


def encode_cost(source: str, frames: int = 60) -> None:
    """Median time of :func:`encode_preview` with the default options on ``source``'s frames."""
    from stmocap.realtime.preview import PreviewConfig, encode_preview
    from stmocap.realtime.sources import SourceConfig, open_source

    cfg = PreviewConfig()
    images = []
    with open_source(SourceConfig(source=source)) as src:
        for frame in src:
            images.append(frame.image)
            if len(images) == frames:
                break
    times, sizes = [], []
    for image in images:
        t = time.perf_counter()
        jpeg, size, _ = encode_preview(image, cfg.preview_quality, cfg.preview_width)
        times.append(time.perf_counter() - t)
        sizes.append(jpeg.size)
    h, w = images[0].shape[:2]
    print(f"encode_preview {w}x{h} -> {size[0]}x{size[1]}, quality {cfg.preview_quality}: median "
          f"{np.median(times) * 1000:.2f} ms, p95 {np.percentile(times, 95) * 1000:.2f} ms, "
          f"{np.mean(sizes) / 1024:.1f} KiB ({len(images)} frames)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="demo")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--frames", type=int, default=0, help="stop each run after N frames (0: all)")
    ap.add_argument("extra", nargs="*", help="options for stmocap run (after --)")
    a = ap.parse_args()
    encode_cost(a.source)
    ways = {"a: no --preview": (False, False), "b: --preview, preview read": (True, True),
            "c: --preview, preview not read": (True, False)}
    results: dict[str, list[dict[str, float]]] = {k: [] for k in ways}
    for r in range(a.repeats):
        for name, (preview, read) in ways.items():
            res = one_run(a.source, preview, read, a.frames, a.extra)
            results[name].append(res)
            print(f"[{r + 1}/{a.repeats}] {name}: {res['fps']:.2f} FPS, capture->publish p50 "
                  f"{res['latency_ms']:.0f} ms, {res['poses']} poses, {res['previews']} previews"
                  + (f" ({res['jpeg_kib']:.1f} KiB each)" if res["previews"] else ""), flush=True)
    base = np.mean([x["fps"] for x in results["a: no --preview"]])
    for name, rs in results.items():
        fps = np.mean([x["fps"] for x in rs])
        lat = np.mean([x["latency_ms"] for x in rs])
        each = ", ".join(f"{x['fps']:.2f}" for x in rs)
        print(f"{name}: mean {fps:.2f} FPS ({fps / base:.3f} of a), capture->publish p50 "
              f"{lat:.0f} ms, runs {each}")


if __name__ == "__main__":
    main()
