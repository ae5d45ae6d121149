"""``stmocap view`` and ``stmocap run --view`` (the viewer beside the graph)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any


def cmd_view(args: argparse.Namespace) -> int:
    from stmocap.viewer.app import ViewerOptions, run_viewer

    width, height = (int(v) for v in args.size.lower().split("x"))
    opts = ViewerOptions(endpoint=args.endpoint, record=args.record, frames=args.frames,
                         duration=args.duration, width=width, height=height, fps=args.fps,
                         skeleton=args.skeleton, keys=args.keys, client=args.client,
                         overlay=args.overlay)
    result = run_viewer(opts)
    print(f"viewer: {result.frames} frames in {result.wall_s:.1f} s ({result.fps:.1f} fps); "
          f"capture->display p50 {result.latency_ms_p50:.1f} ms, publish->display p50 "
          f"{result.added_ms_p50:.1f} ms; lost here {result.lost}, publisher restarts "
          f"{result.restarts}; {result.reason}" + (f"; wrote {args.record}" if args.record else ""),
          file=sys.stderr)
    if args.overlay == "preview":
        print(f"overlay: {result.previews} preview frames received, {result.overlays} overlays drawn"
              + ("" if result.previews else " (none came: start the run with `stmocap run "
                 "--preview`)"), file=sys.stderr)
    return 0


def _with_viewer(run: Any) -> Any:
    """``run``'s handler, starting ``stmocap view ENDPOINT`` beside the graph when ``--view``."""

    def cmd(args: argparse.Namespace) -> int:
        if not getattr(args, "view", False):
            return int(run(args))
        viewer = subprocess.Popen([sys.executable, "-m", "stmocap", "view", args.endpoint])
        try:
            return int(run(args))
        finally:
            viewer.terminate()
            try:
                viewer.wait(10)
            except subprocess.TimeoutExpired:
                viewer.kill()

    return cmd


def add_parsers(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser(
        "view", help="Open3D window of a live stream: meshes, floor, camera (or --record an MP4)",
        description="Subscribe to a stmocap stream and draw every tracked person's mesh (distinct "
                    "colours), a floor grid in the world frame and the camera frustum. Keys: P "
                    "pause, R reset view, F follow next person, M mesh/skeleton, Q quit. "
                    "--record renders headless (starts Xvfb when there is no DISPLAY) to H.264.")
    v.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5556",
                   help="publisher endpoint (default: tcp://127.0.0.1:5556)")
    v.add_argument("--record", type=Path, help="write an MP4 instead of opening a window")
    v.add_argument("--frames", type=int, default=0, help="stop after N drawn frames (default: none)")
    v.add_argument("--duration", type=float, default=0.0, help="stop after S seconds (default: none)")
    v.add_argument("--size", default="960x720", help="window / video size WxH (default: 960x720)")
    v.add_argument("--fps", type=float, default=30.0, help="--record frame rate (default: 30)")
    v.add_argument("--overlay", metavar="preview|VIDEO",
                   help="draw the fitted meshes over the camera image: in a second window (with "
                        "--record: beside the 3D view in the video). 'preview': the frames the run "
                        "publishes with `stmocap run "
                        "--preview` (any source, a live camera too); else the run's video file "
                        "(or 'demo'), read here (a file named preview: ./preview)")
    v.add_argument("--skeleton", action="store_true", help="start with skeletons instead of meshes")
    v.add_argument("--keys", type=Path, help="folder from `stmocap keys` for an encrypted stream")
    v.add_argument("--client", default="client", help="client key name (default: client)")
    v.set_defaults(func=cmd_view)

    run = sub.choices.get("run")
    if run is not None:
        run.add_argument("--view", action="store_true",
                         help="also open the Open3D viewer on --endpoint (stmocap view)")
        run.set_defaults(func=_with_viewer(run.get_default("func")))
