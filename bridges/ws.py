"""WebSocket JSON of the pose topic for browsers and tools, plus a page that draws it.

``stmocap bridge ws ENDPOINT --port 8765`` serves, on one port:

- ``GET /``: a page (``bridges/web/index.html``, three.js vendored under ``web/vendor``) drawing
  every tracked person's skeleton over a floor grid;
- ``ws://HOST:PORT/ws``: JSON text messages. On connect ``{"type": "hello", "v": 1,
  "joint_names": [24 names], "parents": [24 ints]}``; then per new pose of a track ``{"type":
  "pose", "v": 1, "frame_index", "track", "seq", "t_capture_ns", "arrays": {name: nested lists,
  every pose array as published: rotmats, pose_aa, betas, transl, joints3d (camera frame) …},
  "meta": {...}, "joints_world": [[x, y, z] × 24]}`` (world frame: y up, floor y = 0, see
  ``stmocap.viewer.geometry``); ``{"type": "eos"}`` when the stream ends.

Latest-only: the ZeroMQ side is drained every tick and only each track's newest pose is sent; a
browser that cannot keep up skips frames (its messages are not queued behind one another beyond
``websockets``' own write buffer).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from stmocap.viewer.geometry import SMPL_PARENTS, WorldFrame, apply

from stmocap.optional import require

DEFAULT_WS_PORT = 8765
WEB_FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js",
             "/vendor/three.subset.min.js": "vendor/three.subset.min.js"}


def web_root() -> Path:
    return Path(str(resources.files("stmocap.bridges") / "web"))


def pose_json(person: Any, world: WorldFrame) -> str:
    """The JSON text of one :class:`~stmocap.viewer.stream.Person`'s newest pose."""
    world.update(person.pose)
    joints = person.pose.get("joints3d")
    out = {"type": "pose", "v": 1, "frame_index": person.frame_index, "track": person.track,
           "t_capture_ns": person.t_capture_ns,
           "arrays": {k: np.asarray(v).tolist() for k, v in person.pose.items()},
           "meta": person.meta}
    if joints is not None:
        out["joints_world"] = np.round(apply(world.camera_to_world, np.asarray(joints, np.float64)),
                                       5).tolist()
    return json.dumps(out)


def hello_json() -> str:
    from stmocap.models.body.synthetic import SMPL_JOINT_NAMES

    return json.dumps({"type": "hello", "v": 1, "joint_names": list(SMPL_JOINT_NAMES),
                       "parents": list(SMPL_PARENTS)})


class WsBridge:
    """The asyncio server: HTTP files and the ``/ws`` JSON feed from a stream."""

    def __init__(self, endpoint: str, host: str = "127.0.0.1", port: int = DEFAULT_WS_PORT,
                 keys: Any = None, client: str = "client") -> None:
        self.ws = require("websockets", "bridge", "the WebSocket bridge")
        self.endpoint, self.host, self.port = endpoint, host, port
        self.keys, self.client = keys, client
        self.clients: set[Any] = set()
        self.sent = 0
        self.root = web_root()

    def _http(self, connection: Any, request: Any) -> Any:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        path = request.path.split("?")[0]
        if path == "/ws":
            return None  # the WebSocket handshake goes on
        name = WEB_FILES.get(path)
        if name is None:
            return connection.respond(404, "not found\n")
        body = (self.root / name).read_bytes()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".js"):
            ctype = "text/javascript"
        headers = Headers([("Content-Type", ctype), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store")])
        return Response(200, "OK", headers, body)

    async def _handler(self, connection: Any) -> None:
        self.clients.add(connection)
        try:
            await connection.send(hello_json())
            await connection.wait_closed()
        finally:
            self.clients.discard(connection)

    async def run(self, ready: asyncio.Event | None = None, frames: int = 0) -> int:
        """Serve until the stream ends (or ``frames`` poses were forwarded); returns that count."""
        from stmocap.viewer.stream import StreamClient
        from websockets.asyncio.server import broadcast, serve

        world = WorldFrame()
        last: dict[int, int] = {}
        restarts = 0
        async with serve(self._handler, self.host, self.port, process_request=self._http) as server:
            self.port = server.sockets[0].getsockname()[1] if self.port == 0 else self.port
            if ready is not None:
                ready.set()
            with StreamClient(self.endpoint, topics=("pose", "stats"), keys=self.keys,
                              client=self.client) as sub:
                state = sub.state
                while not (frames and self.sent >= frames):
                    sub.poll(0)
                    state.prune()
                    if state.restarts != restarts:
                        restarts, last = state.restarts, {}
                        world.reset()
                    for track, person in sorted(state.persons.items()):
                        if person.pose and last.get(track) != person.frame_index:
                            last[track] = person.frame_index
                            broadcast(self.clients, pose_json(person, world))
                            self.sent += 1
                    if "pose" in state.ended:
                        broadcast(self.clients, json.dumps({"type": "eos"}))
                        await asyncio.sleep(0.5)  # let the last messages leave
                        break
                    await asyncio.sleep(0.01)
        return self.sent
