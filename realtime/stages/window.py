"""Window stage: a ring buffer per track; emits the windows that complete at each frame.

Track-local frame numbers start at 0 when a track first appears. A window of track ``k`` whose
last frame is ``f`` is emitted with frame ``f`` (see :mod:`stmocap.realtime.windows`); when a track
disappears, or the stream ends, its padded tail windows follow; at a shot cut (``meta["cut"]``)
every track ends so, and a track on the cut frame starts again at local frame 0 (its id may be
both in ``ended_tracks`` and in ``track_ids``). All tracks' windows of one frame go
out in one ``windows`` message so the temporal stage runs a single batched engine call.

``windows`` arrays: ``track_ids``/``boxes`` of the frame's tracks and ``frame_local (T,)`` their local
frame numbers; ``win_track (K,)``, ``win_start (K,)``, ``win_tail (K,)`` and one ``win_<name>
(K, W, …)`` per estimate array; ``ended_tracks (E,)`` with ``ended_len (E,)`` frames each.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from stmocap.realtime.messages import Message
from stmocap.realtime.schema import F32, I64, ArrayRule, KindSchema, schemas
from stmocap.realtime.stages.base import Stage
from stmocap.realtime.windows import WindowPlan, tail_windows, window_frame_indices, window_ready_at

PER_TRACK_SKIP = ("track_ids", "boxes")


@dataclass
class _Track:
    frames: int = 0  # frames seen so far
    ring: deque = field(default_factory=deque)  # last W frames' arrays (dict name → array)


class WindowStage(Stage):
    name = "window"
    consumes = ("estimates",)
    produces = ("windows",)
    # Every other per-track array (feats …) is windowed too, so it must have T rows.
    inputs = schemas({"estimates": KindSchema({
        "track_ids": ArrayRule(I64, ("T",)), "boxes": ArrayRule(F32, ("T", 4)),
        "pose_6d": ArrayRule(F32, ("T", 24, 6)), "betas": ArrayRule(F32, ("T", None)),
        "cam": ArrayRule(F32, ("T", 3))})})

    def __init__(self, plan: WindowPlan) -> None:
        self.plan = plan
        self.tracks: dict[int, _Track] = {}
        self._last: Message | None = None

    def _window(self, track: _Track, start: int, num_frames: int) -> dict[str, np.ndarray]:
        first = track.frames - len(track.ring)  # local index of ring[0]
        idx = window_frame_indices(start, num_frames, self.plan)
        rows = [track.ring[i - first] for i in idx]
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}

    def _end(self, tid: int, out: dict[str, list]) -> None:
        track = self.tracks.pop(tid)
        for start in tail_windows(track.frames, self.plan):
            self._add(out, tid, start, True, self._window(track, start, track.frames))
        out["ended_tracks"].append(tid)
        out["ended_len"].append(track.frames)

    @staticmethod
    def _add(out: dict[str, list], tid: int, start: int, tail: bool, arrays: dict) -> None:
        out["win_track"].append(tid)
        out["win_start"].append(start)
        out["win_tail"].append(tail)
        for k, v in arrays.items():
            out.setdefault(f"win_{k}", []).append(v)

    def _message(self, base: Message, out: dict[str, list], frame_arrays: dict) -> Message:
        arrays = dict(frame_arrays)
        for key, dtype in (("win_track", np.int64), ("win_start", np.int64), ("win_tail", bool),
                           ("ended_tracks", np.int64), ("ended_len", np.int64)):
            arrays[key] = np.asarray(out.pop(key), dtype)
        for key, values in out.items():
            arrays[key] = np.stack(values).astype(np.float32)
        return base.derive("windows", arrays, dict(base.meta))

    @staticmethod
    def _empty() -> dict[str, list]:
        return {k: [] for k in ("win_track", "win_start", "win_tail", "ended_tracks", "ended_len")}

    def process(self, msg: Message) -> list[Message]:
        out = self._empty()
        tids = [int(t) for t in msg.arrays["track_ids"]]
        cut = bool(msg.meta.get("cut"))  # a new shot: every track ends here and starts again
        for gone in [t for t in self.tracks if cut or t not in tids]:
            self._end(gone, out)
        local = []
        for row, tid in enumerate(tids):
            track = self.tracks.setdefault(tid, _Track())
            track.ring.append({k: v[row] for k, v in msg.arrays.items() if k not in PER_TRACK_SKIP})
            if len(track.ring) > self.plan.window:
                track.ring.popleft()
            f = track.frames
            track.frames += 1
            local.append(f)
            start = window_ready_at(f, self.plan)
            if start is not None:
                self._add(out, tid, start, False, self._window(track, start, f + 1))
        self._last = msg
        frame = {"track_ids": msg.arrays["track_ids"], "boxes": msg.arrays["boxes"],
                 "frame_local": np.asarray(local, np.int64)}
        return [self._message(msg, out, frame)]

    def finish(self) -> list[Message]:
        if not self.tracks or self._last is None:
            return []
        out = self._empty()
        for tid in list(self.tracks):
            self._end(tid, out)
        empty = {"track_ids": np.zeros(0, np.int64), "boxes": np.zeros((0, 4), np.float32),
                 "frame_local": np.zeros(0, np.int64)}
        final = self._message(self._last, out, empty)
        final.meta["final"] = True
        return [final]
