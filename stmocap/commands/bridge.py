"""``stmocap bridge vmc ENDPOINT``: the pose topic to other apps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_bridge_vmc(args: argparse.Namespace) -> int:
    from stmocap.bridges.vmc import run_vmc_bridge

    print(f"VMC: {args.endpoint} -> udp://{args.host}:{args.port} (/VMC/Ext/Root/Pos, "
          f"/VMC/Ext/Bone/Pos); Ctrl-C stops", file=sys.stderr)
    try:
        sent = run_vmc_bridge(args.endpoint, args.host, args.port, args.track, args.frames,
                              args.keys, args.client)
    except KeyboardInterrupt:
        return 130
    print(f"VMC: sent {sent} frames", file=sys.stderr)
    return 0


def cmd_bridge_ws(args: argparse.Namespace) -> int:
    import asyncio

    from stmocap.bridges.ws import WsBridge

    bridge = WsBridge(args.endpoint, args.host, args.port, args.keys, args.client)
    print(f"WebSocket: {args.endpoint} -> ws://{args.host}:{args.port}/ws; page "
          f"http://{args.host}:{args.port}/ ; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        sent = asyncio.run(bridge.run(frames=args.frames))
    except KeyboardInterrupt:
        return 130
    print(f"WebSocket: sent {sent} poses", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from stmocap.bridges.vmc import DEFAULT_PORT
    from stmocap.bridges.ws import DEFAULT_WS_PORT

    b = sub.add_parser("bridge", help="forward the pose stream to Unity/Blender (VMC) or browsers (ws)")
    bsub = b.add_subparsers(dest="bridge", metavar="KIND", required=True)
    v = bsub.add_parser(
        "vmc", help="VMC protocol (OSC over UDP) for Unity humanoids and VMC receivers",
        description="Send the followed person's pose as VMC messages: /VMC/Ext/Root/Pos and "
                    "/VMC/Ext/Bone/Pos with Unity humanoid bone names and left-handed y-up "
                    "quaternions (see stmocap/bridges/vmc.py for the bone map and frames).")
    v.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5556",
                   help="publisher endpoint (default: tcp://127.0.0.1:5556)")
    v.add_argument("--host", default="127.0.0.1", help="VMC receiver host (default: 127.0.0.1)")
    v.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"VMC receiver UDP port (default: {DEFAULT_PORT})")
    v.add_argument("--track", type=int, help="person to follow (default: the lowest track id)")
    v.add_argument("--frames", type=int, default=0, help="stop after N frames (default: none)")
    v.add_argument("--keys", type=Path, help="folder from `stmocap keys` for an encrypted stream")
    v.add_argument("--client", default="client", help="client key name (default: client)")
    v.set_defaults(func=cmd_bridge_vmc)

    w = bsub.add_parser(
        "ws", help="WebSocket JSON of the pose topic, and a page drawing the live skeletons",
        description="Serve the pose topic as JSON on ws://HOST:PORT/ws and a three.js page on "
                    "http://HOST:PORT/ (see stmocap/bridges/ws.py for the messages).")
    w.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5556",
                   help="publisher endpoint (default: tcp://127.0.0.1:5556)")
    w.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default: 127.0.0.1; 0.0.0.0 for the network)")
    w.add_argument("--port", type=int, default=DEFAULT_WS_PORT,
                   help=f"HTTP and WebSocket port (default: {DEFAULT_WS_PORT})")
    w.add_argument("--frames", type=int, default=0, help="stop after N poses (default: none)")
    w.add_argument("--keys", type=Path, help="folder from `stmocap keys` for an encrypted stream")
    w.add_argument("--client", default="client", help="client key name (default: client)")
    w.set_defaults(func=cmd_bridge_ws)
