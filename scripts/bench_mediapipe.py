"""Side by side with mediapipe (issue 12): accuracy on the 12 shared joints and throughput.

    python scripts/bench_mediapipe.py --source demo --source /tmp/mpb/dance_a.avi --repeats 2 \
        --out /tmp/mpb/out [--checkpoint CKPT --lookahead L] [--mp-python /tmp/mpenv/bin/python]

Each ``--source`` is ``demo`` (the built-in rendered clip, ``stmocap run --source demo``) or a
video written by ``stmocap render CLIP OUT.avi`` with its ground truth ``OUT.npz`` beside it.

For each source, in one sitting:

1. timed runs, interleaved ``--repeats`` times: mediapipe's own Pose solution
   (``scripts/mediapipe_worker.py`` in mediapipe's own environment, ``--mp-python``: video mode,
   model_complexity=1, smoothing on, every frame), then stmocap's lite graph (``run_graph``, what
   ``stmocap run`` / ``stmocap bench --source`` run: file read losslessly as fast as the graph
   takes it, the clip's true intrinsics as ``--source demo`` has them). FPS on both sides =
   (frames − 1) / (time from the first to the last result: mediapipe's per-frame result, the
   graph's publish), decoding included; the ratio is stmocap FPS / mediapipe FPS of the same
   repeat;
2. accuracy of stmocap through the closed-loop machinery (evaluation.closed_loop: the same
   per-frame stages, then ``raw``, ``filtered`` = the graph's filter = what is published (at
   L = 0 by default the learned causal taps; ``--stmocap-option=--filter=one-euro`` for One-Euro), and with
   ``--checkpoint`` or a lookahead with shipped weights (``--stmocap-option=--lookahead=2``)
   ``learned``, the temporal network alone, and ``blended``, what the graph publishes there: the
   network mixed with the taps, ``stmocap eval``'s variant); mediapipe's ``pose_world_landmarks`` of the
   first timed run (the second's are compared with it: mediapipe is deterministic here or not);
3. scores on the 12 shared joints (evaluation.shared_joints: hip-centred, camera frame; MPJPE,
   PA-MPJPE, limb-direction error) over the frames where every method has an estimate.

mediapipe's world landmarks are taken as x right, y down, z away from the camera (the camera's
axes); the script prints the per-axis correlation with the truth as a check.

Writes ``--out/bench_mediapipe.json`` and ``--out/bench_mediapipe.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stmocap.evaluation.shared_joints import BLAZEPOSE_SHARED, SMPL_SHARED, hip_centred, score_shared

WORKER = Path(__file__).with_name("mediapipe_worker.py")


def resolve(source: str) -> tuple[str, Path, Path]:
    """(name, video, ground truth) of a ``--source``."""
    if source == "demo":
        from stmocap.groundtruth.demo import demo_clip

        video, gt = demo_clip(progress=False)
        return "demo", video, gt
    video = Path(source)
    gt = video.with_suffix(".npz")
    if not video.is_file() or not gt.is_file():
        raise SystemExit(f"{source}: need the video and its ground truth {gt.name} beside it "
                         "(stmocap render CLIP OUT.avi)")
    return video.stem, video, gt


def free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def pipeline(video: Path, gt: Path, extra: list[str]) -> Any:
    """The lite profile's config as ``stmocap bench --source VIDEO --intrinsics GT`` builds it."""
    from stmocap.cli import build_parser
    from stmocap.commands.run import pipeline_config

    args = build_parser().parse_args(["bench", "--source", str(video), "--intrinsics", str(gt),
                                      "--endpoint", free_endpoint(), *extra])
    return pipeline_config(args)


def run_mediapipe(python: str, video: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run([python, str(WORKER), str(video), str(out)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"mediapipe worker failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_stmocap(cfg: Any) -> dict[str, Any]:
    from stmocap.realtime.graph import run_graph

    t0 = time.perf_counter()
    result = run_graph(cfg, keep_records=True)
    wall = time.perf_counter() - t0
    rec = result.records
    if len(rec) < 2:
        raise SystemExit("the graph published fewer than 2 frames")
    span = (rec[-1]["t_publish_ns"] - rec[0]["t_publish_ns"]) / 1e9
    return {"frames": len(rec), "fps": (len(rec) - 1) / span, "wall_s": result.wall_s,
            "call_s": wall, "dropped": result.stats.get("dropped", 0)}


def stmocap_joints(video: Path, gt: Path, extra: list[str], learned: bool) -> dict[str, np.ndarray]:
    """Per variant, SMPL's 12 shared joints ``(T, 12, 3)`` in the camera frame (NaN: no estimate)."""
    from stmocap.evaluation.closed_loop import clip_camera, per_frame_estimates, temporal_variant
    from stmocap.models.body.model import load_body_model

    cfg = clip_camera(pipeline(video, gt, extra), gt)
    with np.load(gt) as g:
        frames = len(g["joints3d"])
    estimates, _ = per_frame_estimates(video, cfg)
    body = load_body_model(cfg.body.smpl)
    out = {}
    net = learned or cfg.temporal.temporal == "net"  # --checkpoint, or a shipped network
    mixed = net and cfg.smoothing.filter == "taps"  # the network mixed with the taps: published
    for variant in ("raw", "filtered", *(("learned",) if net else ()), *(("blended",) if mixed else ())):
        params = temporal_variant(estimates, cfg, variant)
        joints = np.full((frames, len(SMPL_SHARED), 3), np.nan)
        seqs = sorted(t for t in params if t < frames)
        if seqs:
            rot = torch.from_numpy(np.stack([params[t][0] for t in seqs])).float()
            betas = torch.from_numpy(np.stack([params[t][1] for t in seqs])).float()
            with torch.no_grad():
                j = body(rot, betas).joints.double().numpy()
            joints[seqs] = j[:, list(SMPL_SHARED)]
        out[variant] = joints
    return out


def axis_check(mp: np.ndarray, gt: np.ndarray) -> list[float]:
    """Correlation per axis (x, y, z) of hip-centred mediapipe and true joints over all frames."""
    ok = np.isfinite(mp).all(axis=(1, 2))
    m, g = hip_centred(mp[ok]), hip_centred(gt[ok])
    return [float(np.corrcoef(m[..., a].ravel(), g[..., a].ravel())[0, 1]) for a in range(3)]


def spread(xs: list[float]) -> str:
    return f"{np.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})" if len(xs) > 1 else f"{xs[0]:.2f}"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "loadavg": os.getloadavg(),
            "torch": torch.__version__, "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", action="append", required=True,
                    help="demo, or a video from `stmocap render` (its .npz beside it); repeatable")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of each (default: 2)")
    ap.add_argument("--out", type=Path, default=Path("bench-mediapipe"))
    ap.add_argument("--mp-python", default="/tmp/mpenv/bin/python",
                    help="python of mediapipe's own environment (default: /tmp/mpenv/bin/python)")
    ap.add_argument("--checkpoint", type=Path, help="lite temporal network: also score `learned`")
    ap.add_argument("--lookahead", type=int, default=0, help="with --checkpoint (default: 0)")
    ap.add_argument("--stmocap-option", action="append", default=[], metavar="OPTION",
                    help="a `stmocap bench` option for stmocap's runs (repeatable), e.g. "
                         "--stmocap-option=--cut-threshold=0")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        raise SystemExit("--repeats must be ≥ 1")
    net = (["--temporal", "net", "--checkpoint", str(args.checkpoint), "--lookahead",
            str(args.lookahead)] if args.checkpoint else [])
    args.out.mkdir(parents=True, exist_ok=True)
    info = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), **machine(),
            "command": "python scripts/bench_mediapipe.py " + " ".join(shlex.quote(a) for a in
                                                                       (argv or sys.argv[1:]))}
    report: dict[str, Any] = {"info": info, "clips": []}
    with tempfile.TemporaryDirectory() as tmp:
        for source in args.source:
            name, video, gt_path = resolve(source)
            with np.load(gt_path) as g:
                gt = g["joints3d"][:, list(SMPL_SHARED)].astype(np.float64)
            speed = []
            mp_world = []
            for r in range(args.repeats):
                print(f"{name}: timed run {r + 1}/{args.repeats}: mediapipe …", file=sys.stderr)
                mp_out = Path(tmp) / f"{name}-mp{r}.npz"
                m = run_mediapipe(args.mp_python, video, mp_out)
                with np.load(mp_out) as w:
                    mp_world.append(w["world"][:, list(BLAZEPOSE_SHARED)])
                print(f"{name}: timed run {r + 1}/{args.repeats}: stmocap lite graph …", file=sys.stderr)
                s = run_stmocap(pipeline(video, gt_path, args.stmocap_option))
                speed.append({"mediapipe": m, "stmocap": s, "ratio": s["fps"] / m["fps"]})
                print(f"  mediapipe {m['fps']:.1f} FPS, stmocap {s['fps']:.1f} FPS, ratio "
                      f"{s['fps'] / m['fps']:.2f}", file=sys.stderr)
            print(f"{name}: stmocap accuracy (closed-loop stages) …", file=sys.stderr)
            ours = stmocap_joints(video, gt_path, [*net, *args.stmocap_option], bool(args.checkpoint))
            mp = mp_world[0]
            repeat_diff = max(float(np.nanmax(np.abs(w - mp))) if np.isfinite(w).any() else 0.0
                              for w in mp_world)
            preds = {"mediapipe": mp, **{f"stmocap {v}": j for v, j in ours.items()}}
            common = np.logical_and.reduce([np.isfinite(p).all(axis=(1, 2)) for p in preds.values()])
            scores = {k: score_shared(p, gt, common) for k, p in preds.items()}
            detected = {k: int(np.isfinite(p).all(axis=(1, 2)).sum()) for k, p in preds.items()}
            axes = axis_check(mp, gt)
            print(f"  mediapipe axis correlation x/y/z {axes}; scores {scores}", file=sys.stderr)
            report["clips"].append({"clip": name, "video": str(video), "frames": len(gt),
                                    "speed": speed, "scores": scores, "detected": detected,
                                    "mp_axis_corr": axes, "mp_repeat_max_diff_m": repeat_diff})
    report["info"]["loadavg_end"] = os.getloadavg()
    (args.out / "bench_mediapipe.json").write_text(json.dumps(report, indent=1))
    md = markdown(report)
    (args.out / "bench_mediapipe.md").write_text(md + "\n")
    print(md)
    return 0


def markdown(report: dict[str, Any]) -> str:
    info = report["info"]
    la0, la1 = info["loadavg"], info["loadavg_end"]
    lines = [f"Measured {info['date']} on `{info['cpu']}`, {info['cores']} cores, torch "
             f"{info['torch']}; load average (1/5/15 min) {la0[0]:.2f}/{la0[1]:.2f}/{la0[2]:.2f} "
             f"at the start, {la1[0]:.2f}/{la1[1]:.2f}/{la1[2]:.2f} at the end.", "",
             f"Command: `{info['command']}`", "",
             "Accuracy, 12 shared joints, hip-centred, camera frame, over the frames where every "
             "method has an estimate:", "",
             "| clip | method | frames scored | detected | MPJPE mm | PA-MPJPE mm | limb-direction ° "
             "| hip width / true |", "|---|---|---|---|---|---|---|---|"]
    for c in report["clips"]:
        for k, s in c["scores"].items():
            lines.append(f"| {c['clip']} | {k} | {s['frames']} | {c['detected'][k]}/{c['frames']} "
                         f"| {s['mpjpe']:.1f} | {s['pa_mpjpe']:.1f} | {s['limb_deg']:.1f} "
                         f"| {s['hip_width_ratio']:.2f} |")
    lines += ["", "Throughput, interleaved runs (mediapipe, stmocap, mediapipe, …), FPS = (frames − 1) "
              "/ first-to-last result, decoding included:", "",
              "| clip | repeat | mediapipe FPS | stmocap lite graph FPS | ratio stmocap / mediapipe |",
              "|---|---|---|---|---|"]
    for c in report["clips"]:
        for r, s in enumerate(c["speed"]):
            lines.append(f"| {c['clip']} | {r + 1} | {s['mediapipe']['fps']:.1f} | "
                         f"{s['stmocap']['fps']:.1f} | {s['ratio']:.2f} |")
        ratios = [s["ratio"] for s in c["speed"]]
        lines.append(f"| {c['clip']} | median (min–max) | "
                     f"{spread([s['mediapipe']['fps'] for s in c['speed']])} | "
                     f"{spread([s['stmocap']['fps'] for s in c['speed']])} | {spread(ratios)} |")
    lines += ["", "mediapipe checks: per-axis correlation with the truth (x, y, z) "
              + "; ".join(f"{c['clip']} " + "/".join(f"{a:.2f}" for a in c["mp_axis_corr"])
                          for c in report["clips"])
              + "; largest difference between its repeats "
              + "; ".join(f"{c['clip']} {1e3 * c['mp_repeat_max_diff_m']:.2f} mm" for c in report["clips"])
              + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
