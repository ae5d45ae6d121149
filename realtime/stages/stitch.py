"""Stitch stage: overlap averaging per track with lookahead; one ``params`` message per final frame.

Frames come out in order per track, optionally smoothed: learned causal taps, or a
rotation-aware One-Euro filter on the content's clock (video time for files, capture time for
cameras); :mod:`stmocap.realtime.filters`. Each carries the identity and timing of the
frame it describes (so capture→publish latency includes the lookahead wait). ``params`` arrays:
``rotmats (J, 3, 3)``, ``betas (B,)``, ``cam (3,)``, ``box (4,)`` and, when the per-frame stage
gives it, ``transl (3,)`` (SMPL translation, camera frame, metres); ``meta`` keeps the frame's
(``image_size`` …) and adds ``windows`` (how many were averaged) and ``no_person`` (frames so far,
this one included, that had no tracked person). After each frame's ``params`` a ``progress``
message (no arrays, the frame's identity and meta) tells the publisher the frame got through, so
its counters advance while nobody is visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from stmocap.realtime.filters import FilterConfig, OneEuroRotations, OneEuroVector, TapsSmoother
from stmocap.realtime.messages import Message, content_time
from stmocap.realtime.schema import F32, I64, ArrayRule, KindSchema, schemas
from stmocap.realtime.stages.base import Stage
from stmocap.realtime.stitching import StitchedFrame, StreamingStitcher, WindowParams
from stmocap.realtime.windows import WindowPlan


@dataclass
class _TrackState:
    stitcher: StreamingStitcher
    rot_filter: OneEuroRotations | None = None
    lin_filter: OneEuroVector | None = None
    taps: TapsSmoother | None = None
    frames: dict[int, tuple[Message, np.ndarray]] = field(default_factory=dict)  # local → (msg, box)


class StitchStage(Stage):
    name = "stitch"
    consumes = ("windows",)
    produces = ("params", "progress")
    inputs = schemas({"windows": KindSchema({
        "track_ids": ArrayRule(I64, ("T",)), "boxes": ArrayRule(F32, ("T", 4)),
        "frame_local": ArrayRule(I64, ("T",)),
        "win_track": ArrayRule(I64, ("K",)), "win_start": ArrayRule(I64, ("K",)),
        "win_tail": ArrayRule(("bool",), ("K",)),
        "win_rot": ArrayRule(F32, ("K", "W", "J", 3, 3), required_when="K"),
        "win_lin": ArrayRule(F32, ("K", "W", None), required_when="K"),
        "ended_tracks": ArrayRule(I64, ("E",)), "ended_len": ArrayRule(I64, ("E",))})})

    def __init__(self, plan: WindowPlan, num_betas: int = 10,
                 smoothing: FilterConfig | None = None) -> None:
        self.plan = plan
        self.num_betas = num_betas
        self.smoothing = smoothing or FilterConfig(filter="none")
        self.tracks: dict[int, _TrackState] = {}
        self.no_person = 0
        self.taps = None
        if self.smoothing.filter == "taps":
            from stmocap.models.temporal.taps import SHIPPED, load_taps

            self.taps = load_taps(self.smoothing.taps or SHIPPED)

    def _new_track(self) -> _TrackState:
        state = _TrackState(StreamingStitcher(self.plan))
        if self.smoothing.filter in ("one-euro", "auto"):  # auto unresolved (no pipeline): one-euro
            state.rot_filter = OneEuroRotations(self.smoothing)
            state.lin_filter = OneEuroVector(self.smoothing)
        elif self.taps is not None:
            state.taps = TapsSmoother(self.taps)
        return state

    def _emit(self, tid: int, state: _TrackState, done: list[StitchedFrame]) -> list[Message]:
        out = []
        for f in done:
            src, box = state.frames.pop(f.index)
            rot, lin = f.rotations.numpy(), f.linear.numpy()
            if state.rot_filter is not None and state.lin_filter is not None:
                t = content_time(src)  # video time for files, capture time for cameras
                rot, lin = state.rot_filter(rot, t), state.lin_filter(lin, t)
            elif state.taps is not None:
                rot, lin = state.taps(rot, lin)
            nb = self.num_betas
            arrays = {"rotmats": rot.astype(np.float32), "betas": lin[:nb].astype(np.float32),
                      "cam": lin[nb:nb + 3].astype(np.float32), "box": box}
            if len(lin) >= nb + 6:
                arrays["transl"] = lin[nb + 3:nb + 6].astype(np.float32)
            out.append(src.derive(
                "params", arrays,
                {**src.meta, "windows": f.num_windows},
                track=tid))
        return out

    def process(self, msg: Message) -> list[Message]:
        a = msg.arrays
        out: list[Message] = []
        frame_tracks = [int(t) for t in a["track_ids"]]
        final = bool(msg.meta.get("final"))  # the window stage's flush at the end, not a frame
        if not frame_tracks and not final:
            self.no_person += 1
        msg.meta["no_person"] = self.no_person
        windows: dict[int, list[tuple[int, WindowParams, bool]]] = {}
        for k, tid in enumerate(a["win_track"]):
            params = WindowParams(torch.from_numpy(a["win_rot"][k]), torch.from_numpy(a["win_lin"][k]))
            windows.setdefault(int(tid), []).append((int(a["win_start"][k]), params,
                                                     bool(a["win_tail"][k])))
        ended = [(int(t), int(n)) for t, n in zip(a["ended_tracks"], a["ended_len"], strict=True)]
        for tid, length in ended:  # before this frame's tracks: at a cut one may restart its id
            state = self.tracks.pop(tid)
            tails = {s: p for s, p, tail in windows.get(tid, []) if tail}
            out += self._emit(tid, state, state.stitcher.finish(length, tails))
        for row, tid in enumerate(frame_tracks):
            if tid not in self.tracks:
                self.tracks[tid] = self._new_track()
            state = self.tracks[tid]
            state.frames[int(a["frame_local"][row])] = (msg, a["boxes"][row].copy())
        for row, tid in enumerate(frame_tracks):
            state = self.tracks[tid]
            regular = [(s, p) for s, p, tail in windows.get(tid, []) if not tail]
            if regular:
                for start, params in regular:
                    out += self._emit(tid, state, state.stitcher.push(start, params))
            else:
                out += self._emit(tid, state, state.stitcher.advance(int(a["frame_local"][row])))
        if not final:
            out.append(msg.derive("progress", {}, {k: v for k, v in msg.meta.items()
                                                   if k in ("dropped", "no_person", "rejected")}))
        return out
