"""``stmocap view``: the live window (or a headless MP4) of a published stream.

The loop: drain the socket (:class:`~stmocap.viewer.stream.StreamClient`), update the scene in
place, render, measure. It never blocks the publisher (a SUB socket with a small queue; the
newest state wins). Keys in the window: **P** pause, **R** reset the view, **F** follow the next
person (cycles, then off), **M** mesh / skeleton, **Q** or Esc quit.

HUD: Open3D's legacy window cannot draw text, so the HUD line (display FPS, capture → display
latency, drops) is printed to the terminal once a second and burnt into recorded frames.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stmocap.viewer.stream import StreamClient, StreamState


@dataclass
class ViewerOptions:
    """What ``stmocap view`` was asked to do (see its ``--help``)."""

    endpoint: str
    record: Path | None = None
    frames: int = 0  # stop after this many drawn frames (0: no limit)
    duration: float = 0.0  # stop after this many seconds (0: no limit)
    width: int = 960
    height: int = 720
    fps: float = 30.0  # frame rate written into --record
    skeleton: bool = False
    keys: Path | None = None
    client: str = "client"
    hud: bool = True
    # Record the fit beside the view, over frames of: "preview" (the stream's preview topic, from
    # `stmocap run --preview`) or the run's video file (or "demo").
    overlay: str | None = None


@dataclass
class Hud:
    """Display rate and latency over the last ``window`` drawn frames.

    ``latency_ms``: capture → display (same host only); ``added_ms``: publish → display, what the
    viewer (transport, decode, drawing) adds after the graph.
    """

    window: int = 120
    times: deque[int] = field(default_factory=lambda: deque(maxlen=120))
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    added_ms: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    all_latency_ms: list[float] = field(default_factory=list)
    all_added_ms: list[float] = field(default_factory=list)
    frames: int = 0

    def frame(self, now_ns: int, state: StreamState, new_data: bool) -> None:
        self.frames += 1
        self.times.append(now_ns)
        newest = max(state.persons.values(), key=lambda p: p.t_capture_ns, default=None)
        if new_data and newest is not None and newest.t_capture_ns > 0:
            lat = (now_ns - newest.t_capture_ns) / 1e6
            self.latency_ms.append(lat)
            self.all_latency_ms.append(lat)
            if newest.publish_ns:
                add = (now_ns - newest.publish_ns) / 1e6
                self.added_ms.append(add)
                self.all_added_ms.append(add)

    @property
    def fps(self) -> float:
        if len(self.times) < 2:
            return 0.0
        return (len(self.times) - 1) / max((self.times[-1] - self.times[0]) / 1e9, 1e-9)

    def line(self, state: StreamState) -> str:
        lat = f"{np.median(self.latency_ms):.0f} ms" if self.latency_ms else "-"
        add = f"{np.median(self.added_ms):.0f} ms" if self.added_ms else "-"
        return (f"{self.fps:5.1f} fps | capture->display {lat} (viewer +{add}) | people "
                f"{len(state.persons)} | lost here {state.lost} | dropped upstream "
                f"{state.dropped_upstream}")


@dataclass
class ViewerResult:
    """What a viewer run measured (``docs/benchmarks.md``)."""

    frames: int
    wall_s: float
    fps: float
    latency_ms_p50: float
    added_ms_p50: float
    lost: int
    restarts: int
    reason: str = ""
    previews: int = 0  # preview frames received (--overlay preview)
    overlays: int = 0  # overlay panels drawn (--overlay)


def burn_text(rgb: np.ndarray, text: str) -> np.ndarray:
    """``rgb (H, W, 3)`` uint8 with ``text`` drawn in its top-left corner."""
    import cv2

    out = np.ascontiguousarray(rgb)
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class Controls:
    """Key actions on a scene (pause, reset view, follow, mesh/skeleton)."""

    def __init__(self, scene: Any, state: StreamState) -> None:
        self.scene, self.state, self.paused = scene, state, False
        self.changed = False  # the scene must be redrawn although no new data came

    def pause(self) -> None:
        self.paused = not self.paused
        self.changed = True

    def reset(self) -> None:
        self.scene.home()
        self.changed = True

    def follow_next(self) -> None:
        tracks = sorted(self.state.persons)
        cur = self.scene.follow
        later = [t for t in tracks if cur is None or t > cur]
        self.scene.follow = later[0] if later else None
        self.changed = True

    def toggle_mesh(self) -> None:
        self.scene.show_mesh = not self.scene.show_mesh
        self.changed = True

    def bind(self) -> None:
        for key, action in (("P", self.pause), ("R", self.reset), ("F", self.follow_next),
                            ("M", self.toggle_mesh)):
            self.scene.register_key(key, action)


def run_viewer(opts: ViewerOptions) -> ViewerResult:
    """Show (or record) the stream until the window closes, the stream ends (recording), or the
    ``frames`` / ``duration`` limit. Recording without a display starts Xvfb."""
    from stmocap.viewer.display import VirtualDisplay
    from stmocap.viewer.scene import Scene

    display = None
    writer = None
    if opts.record is not None:
        import os

        from stmocap.viewer.video import VideoWriter

        wide = opts.width * (2 if opts.overlay else 1)
        writer = VideoWriter(opts.record, wide, opts.height, opts.fps)
        if not os.environ.get("DISPLAY"):
            display = VirtualDisplay(opts.width + 64, opts.height + 64)
    scene = client = window = None
    video = None
    from_preview = opts.overlay == "preview"
    if opts.overlay is not None and not from_preview:
        from stmocap.viewer.overlay import VideoFrames

        video = VideoFrames(opts.overlay)
    try:
        scene = Scene(opts.width, opts.height, visible=opts.record is None)
        # Subscribe (and say hello) once the window is up: --wait-subscribers then starts the
        # stream when the viewer can draw it. The preview topic only for its overlay: the run
        # encodes JPEGs only while someone subscribes to it.
        topics = ("pose", "mesh", "stats") + (("preview",) if from_preview else ())
        client = StreamClient(opts.endpoint, topics=topics, keys=opts.keys, client=opts.client)
        panel = None
        if opts.overlay is not None:
            from stmocap.viewer.overlay import OverlayPanel, PreviewFrames

            panel = OverlayPanel(PreviewFrames(client.state) if from_preview else video,
                                 (opts.height, opts.width))
            if writer is None:  # on screen: the overlay in a second window beside the 3D view
                from stmocap.viewer.overlay_window import OverlayWindow

                window = OverlayWindow(opts.width, opts.height)
        scene.show_mesh = not opts.skeleton
        controls = Controls(scene, client.state)
        controls.bind()
        hud = Hud()
        t0 = time.monotonic()
        next_print = t0 + 1.0
        last_frame = None
        reason = ""
        while not reason:
            got = client.poll(timeout_ms=50 if writer is not None else 5)
            state = client.state
            state.prune()
            # A person's frame is new once its mesh came (pose and mesh are separate messages).
            newest = tuple(sorted((p.track, p.mesh_frame_index if p.vertices is not None
                                   else p.frame_index) for p in state.persons.values()))
            new_data = newest != last_frame
            last_frame = newest
            if state.ended >= {"pose", "mesh"}:
                reason = "stream ended"
            elif writer is not None and _gone(state):
                reason = "publisher gone (no message for three heartbeats)"
            elif opts.duration and time.monotonic() - t0 > opts.duration:
                reason = "duration reached"
            if writer is not None and not new_data:
                continue  # recording: one video frame per new stream frame
            if not controls.paused and (new_data or controls.changed):
                controls.changed = False
                scene.update(state)
            if not scene.render():
                reason = "window closed"
            if window is not None and panel is not None:
                if new_data:
                    window.show(panel.update(state, (opts.height, opts.width)))
                if not window.render():
                    reason = "window closed"
            hud.frame(time.monotonic_ns(), state, new_data and got > 0)
            if writer is not None:
                img = scene.capture()
                if panel is not None:
                    img = np.hstack([img, panel.update(state, img.shape[:2])])
                writer.write(burn_text(img, hud.line(state)) if opts.hud else img)
            if time.monotonic() >= next_print and opts.hud:
                next_print = time.monotonic() + 1.0
                print(hud.line(state), file=sys.stderr, flush=True)
            if opts.frames and hud.frames >= opts.frames:
                reason = "frame limit reached"
        wall = time.monotonic() - t0
        return ViewerResult(
            frames=hud.frames, wall_s=wall, fps=hud.fps,
            latency_ms_p50=float(np.median(hud.all_latency_ms)) if hud.all_latency_ms else float("nan"),
            added_ms_p50=float(np.median(hud.all_added_ms)) if hud.all_added_ms else float("nan"),
            lost=client.state.lost, restarts=client.state.restarts, reason=reason,
            previews=client.state.received.get("preview", 0),
            overlays=panel.drawn if panel is not None else 0)
    finally:
        if window is not None:
            window.close()
        if scene is not None:
            scene.close()
        if writer is not None:
            writer.close()
        if client is not None:
            client.close()
        if video is not None:
            video.close()
        if display is not None:
            display.close()


def _gone(state: StreamState) -> bool:
    """No message at all for three heartbeat periods after the stream had started."""
    if not state.last_message_ns:
        return False
    period = float(state.stats.get("period", 1.0))
    return time.monotonic_ns() - state.last_message_ns > 3 * period * 1e9
