"""Viewer benchmark (docs/benchmarks.md): draw rate of the Open3D scene and publish → display
latency through the real publisher and subscriber, under Xvfb.

    python scripts/bench_viewer.py [--frames 150] [--size 960x720] [--rate 30]

1. Draw: the free body (13,718 vertices, one person) posed with a new phase every frame:
   ``Scene.update`` (vertices, normals, update_geometry) + render, back to back.
2. Latency: a real Publisher sends ``--rate`` frames/s (pose + mesh) for ``--frames`` frames;
   the viewer's loop (StreamClient.poll → Scene.update → render) measures, per drawn frame,
   display time minus the pose's ``publish`` stamp (same host).
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

import numpy as np
import zmq
from stmocap.realtime.messages import Message
from stmocap.realtime.publisher import Publisher
from stmocap.viewer.display import VirtualDisplay
from stmocap.viewer.sample import SampleBody, body_message
from stmocap.viewer.stream import Person, StreamClient, StreamState


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--size", default="960x720")
    ap.add_argument("--rate", type=float, default=30.0)
    a = ap.parse_args()
    W, H = (int(v) for v in a.size.split("x"))
    body = SampleBody()
    poses = [body.frame(phase=0.2 * i) for i in range(8)]
    with VirtualDisplay(W + 64, H + 64):
        from stmocap.viewer.scene import Scene

        scene = Scene(W, H, visible=True)
        state = StreamState(faces=body.faces, stale_s=1e9)
        p = Person(0, meta={"image_size": [640, 480], "focal": 600.0})
        state.persons[0] = p
        times = []
        for i in range(a.frames):
            f = poses[i % 8]
            p.pose, p.vertices, p.frame_index = f, f["vertices"], i
            t = time.perf_counter()
            scene.update(state)
            scene.render()
            times.append(time.perf_counter() - t)
        ms = np.array(times[5:]) * 1000
        print(f"draw: {len(ms)} frames, {1000 / ms.mean():.1f} FPS, median {np.median(ms):.1f} ms, "
              f"p95 {np.percentile(ms, 95):.1f} ms ({W}x{H}, 13,718 vertices)")
        scene.close()

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        pub = Publisher(endpoint, zmq.Context.instance(), queue_size=16, stats_period=1.0)
        pub.put(Message(kind="faces", stream="main", arrays={"faces": body.faces}))
        scene = Scene(W, H, visible=True)
        client = StreamClient(endpoint)

        def send() -> None:
            pub.wait_for_clients(1, 30)
            for i in range(a.frames):
                pub.put(body_message(poses[i % 8], frame_index=i, track=0))
                time.sleep(1 / a.rate)
            pub.end()

        threading.Thread(target=send, daemon=True).start()
        added, drawn, last = [], 0, -1
        t0 = time.perf_counter()
        while "mesh" not in client.state.ended:
            client.poll(5)
            q = client.state.persons.get(0)
            if q is None or q.mesh_frame_index == last or q.vertices is None:
                scene.render()
                continue
            last = q.mesh_frame_index
            scene.update(client.state)
            scene.render()
            added.append((time.monotonic_ns() - q.publish_ns) / 1e6)
            drawn += 1
        wall = time.perf_counter() - t0
        lat = np.array(added)
        print(f"stream: {a.frames} frames sent at {a.rate:g}/s, {drawn} drawn ({drawn / wall:.1f} FPS), "
              f"lost here {client.state.lost}; publish->display median {np.median(lat):.1f} ms, "
              f"p95 {np.percentile(lat, 95):.1f} ms")
        client.close()
        scene.close()
        pub.close()


if __name__ == "__main__":
    main()
