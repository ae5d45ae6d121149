"""``stmocap export-motion``: a recorded session (``listen --record``) → BVH or npz per track."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_export_motion(args: argparse.Namespace) -> int:
    import numpy as np

    from stmocap.models.body.model import load_body_model
    from stmocap.motion.bvh import rest_joints_of, to_world, write_bvh, write_npz
    from stmocap.motion.session import SessionError, read_session

    try:
        tracks = read_session(args.session)
    except SessionError as exc:
        raise ValueError(str(exc)) from exc
    if args.track is not None:
        if args.track not in tracks:
            raise ValueError(f"{args.session} has no track {args.track} (tracks {sorted(tracks)})")
        tracks = {args.track: tracks[args.track]}
    fps = args.fps
    if fps is None:
        with np.load(args.session) as data:
            fps = float(np.asarray(data["fps"]).ravel()[0]) if "fps" in data.files else 30.0
    body = load_body_model(args.model)
    out_dir = args.out_dir or args.session.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.session.name.removesuffix(".npz")
    for track, motion in sorted(tracks.items()):
        rest = rest_joints_of(body, motion.betas.mean(axis=0)[: body.num_betas])
        world = to_world(motion, rest, fps)
        path = out_dir / f"{stem}.track{track}.{args.to}"
        (write_bvh if args.to == "bvh" else write_npz)(path, world)
        print(f"track {track}: {len(motion.frames)} frames ({motion.frames[0]}-{motion.frames[-1]}) "
              f"at {fps:g} fps -> {path}", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-motion", help="a recorded session (.npz from listen --record) to BVH or npz per track",
        description="Write each track of a `stmocap listen --record` session as BVH (SMPL skeleton, "
                    "rest offsets from the body model at the track's mean shape, ZXY Euler "
                    "channels, metres, y up) or as a plain npz of world-frame rotations and joints.")
    p.add_argument("session", type=Path, help="session .npz written by stmocap listen --record")
    p.add_argument("--to", choices=["bvh", "npz"], default="bvh", help="output format (default: bvh)")
    p.add_argument("--out-dir", type=Path, help="folder for SESSION.trackN.EXT (default: beside it)")
    p.add_argument("--track", type=int, help="only this track id (default: every track)")
    p.add_argument("--fps", type=float, help="frame rate (default: the session's, else 30)")
    p.add_argument("--model", default="free", help="body model for the rest pose: 'free' (default) "
                   "or an SMPL file/folder (use the one the run used)")
    p.set_defaults(func=cmd_export_motion)
