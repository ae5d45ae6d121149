"""Stitch stage: overlap averaging per track with lookahead; one ``params`` message per final frame.

Frames come out in order per track, optionally smoothed: learned taps, or a rotation-aware
One-Euro filter on the content's clock (video time for files, capture time for cameras);
:mod:`stmocap.realtime.filters`. Taps with lookahead ``La`` take ``La`` of the frames
``--lookahead`` waits for: overlap averaging then waits for the other ``L − La``, so a frame still
comes out ``L`` frames after it was captured. Where a temporal network runs (``network``), taps do
not filter its output: they smooth the per-frame estimates (the windows' own ``win_pose_6d``,
``win_betas``, ``win_cam``, ``win_transl``, stitched apart), and the frame published is the
weighted mean of the two (``--taps-weight`` for the taps' share; rotations along the geodesic), an
ensemble of the network and the linear smoother that reads the same frames. Each carries the
identity and timing of the frame it describes (so capture→publish latency includes the lookahead
wait). ``params`` arrays: ``rotmats (J, 3, 3)``, ``betas (B,)``, ``cam (3,)``, ``box (4,)`` and,
when the per-frame stage gives it, ``transl (3,)`` (SMPL translation, camera frame, metres);
``meta`` keeps the frame's (``image_size`` …) and adds ``windows`` (how many were averaged) and
``no_person`` (frames so far, this one included, that had no tracked person). After each frame's
``params`` a ``progress`` message (no arrays, the frame's identity and meta) tells the publisher
the frame got through, so its counters advance while nobody is visible.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from stmocap.models.rotations import geodesic_interpolate, rotation_6d_to_matrix
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
    held: deque[tuple[int, int]] = field(default_factory=deque)  # (frame, windows) the taps hold
    per_frame: StreamingStitcher | None = None  # with a network: the per-frame estimates' stream
    smoothed: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # its taps


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
                 smoothing: FilterConfig | None = None, network: bool = False) -> None:
        self.plan = plan
        self.num_betas = num_betas
        self.smoothing = smoothing or FilterConfig(filter="none")
        self.tracks: dict[int, _TrackState] = {}
        self.no_person = 0
        self.taps = None
        self.stitch_plan = plan
        self.blend = False
        if self.smoothing.filter == "taps":
            from stmocap.models.temporal.taps import load_taps, taps_file, taps_problem

            self.taps = load_taps(taps_file(self.smoothing.taps, plan.lookahead))
            problem = taps_problem(self.taps, plan.lookahead, plan.stride)
            if problem:
                raise ValueError(f"--taps: {problem}")
            # the taps wait for their lookahead's frames; overlap averaging waits for the rest
            taps_plan = replace(plan, lookahead=plan.lookahead - self.taps.lookahead)
            self.blend = network
            self.per_frame_plan = taps_plan
            if not network:
                self.stitch_plan = taps_plan

    def input_schema(self, kind: str) -> KindSchema | None:
        """Mixing taps into a network's output reads the windows' own per-frame estimates too."""
        schema = super().input_schema(kind)
        if not self.blend or kind != "windows" or schema is None:
            return schema
        return KindSchema({**schema.arrays,
                           "win_pose_6d": ArrayRule(F32, ("K", "W", "J", 6), required_when="K"),
                           "win_betas": ArrayRule(F32, ("K", "W", None), required_when="K"),
                           "win_cam": ArrayRule(F32, ("K", "W", 3), required_when="K")})

    def _new_track(self) -> _TrackState:
        state = _TrackState(StreamingStitcher(self.stitch_plan))
        if self.smoothing.filter in ("one-euro", "auto"):  # auto unresolved (no pipeline): one-euro
            state.rot_filter = OneEuroRotations(self.smoothing)
            state.lin_filter = OneEuroVector(self.smoothing)
        elif self.taps is not None:
            state.taps = TapsSmoother(self.taps)
            if self.blend:
                state.per_frame = StreamingStitcher(self.per_frame_plan)
        return state

    def _smooth_per_frame(self, state: _TrackState, done: list[StitchedFrame],
                          end: bool = False) -> None:
        """With a network: the per-frame estimates' stitched frames ``done`` through the taps;
        their results wait in ``state.smoothed`` for the network's frames."""
        assert state.taps is not None
        for f in done:
            state.held.append((f.index, f.num_windows))
            for r, x in state.taps.push(f.rotations.numpy(), f.linear.numpy()):
                state.smoothed[state.held.popleft()[0]] = (r, x)
        if end:
            for r, x in state.taps.flush():
                state.smoothed[state.held.popleft()[0]] = (r, x)

    def _mix(self, state: _TrackState, index: int, rot: np.ndarray,
             lin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's frame ``index`` and the taps' mean, ``--taps-weight`` ``w`` for the taps:
        each joint's rotation ``w`` of the way along the geodesic from the network's to the taps'
        (``R_net · exp(w · log(R_netᵀ R_taps))``), the linear part ``(1 − w)·x_net + w·x_taps``."""
        w = self.smoothing.taps_weight
        r_taps, x_taps = state.smoothed.pop(index)
        mixed = geodesic_interpolate(torch.from_numpy(np.asarray(rot, np.float64)),
                                     torch.from_numpy(r_taps), w)
        return mixed.numpy(), (1 - w) * np.asarray(lin, np.float64) + w * x_taps

    def _emit(self, tid: int, state: _TrackState, done: list[StitchedFrame],
              end: bool = False) -> list[Message]:
        """``params`` for the stitched frames ``done`` once smoothed (taps with lookahead hold
        some back until later frames come); ``end``: the track ended, nothing is held back."""
        ready: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # (frame, windows, rot, lin)
        for f in done:
            rot, lin = f.rotations.numpy(), f.linear.numpy()
            if state.rot_filter is not None and state.lin_filter is not None:
                t = content_time(state.frames[f.index][0])  # video time for files, capture time for cameras
                rot, lin = state.rot_filter(rot, t), state.lin_filter(lin, t)
            elif self.blend:
                rot, lin = self._mix(state, f.index, rot, lin)
            elif state.taps is not None:
                state.held.append((f.index, f.num_windows))
                ready += [(*state.held.popleft(), r, x) for r, x in state.taps.push(rot, lin)]
                continue
            ready.append((f.index, f.num_windows, rot, lin))
        if end and state.taps is not None and not self.blend:
            ready += [(*state.held.popleft(), r, x) for r, x in state.taps.flush()]
        out = []
        nb = self.num_betas
        for index, windows, rot, lin in ready:
            src, box = state.frames.pop(index)
            arrays = {"rotmats": rot.astype(np.float32), "betas": lin[:nb].astype(np.float32),
                      "cam": lin[nb:nb + 3].astype(np.float32), "box": box}
            if len(lin) >= nb + 6:
                arrays["transl"] = lin[nb + 3:nb + 6].astype(np.float32)
            out.append(src.derive("params", arrays, {**src.meta, "windows": windows}, track=tid))
        return out

    @staticmethod
    def _per_frame_window(a: dict[str, np.ndarray], k: int) -> WindowParams:
        """Window ``k``'s own per-frame estimates (what the temporal stage read), as the network's
        output is laid out: rotations, then β ‖ camera ‖ translation."""
        rot = rotation_6d_to_matrix(torch.from_numpy(np.ascontiguousarray(a["win_pose_6d"][k])))
        lin = [a["win_betas"][k], a["win_cam"][k]] + ([a["win_transl"][k]] if "win_transl" in a else [])
        return WindowParams(rot.float(), torch.from_numpy(np.concatenate(lin, -1)).float())

    def process(self, msg: Message) -> list[Message]:
        a = msg.arrays
        out: list[Message] = []
        frame_tracks = [int(t) for t in a["track_ids"]]
        final = bool(msg.meta.get("final"))  # the window stage's flush at the end, not a frame
        if not frame_tracks and not final:
            self.no_person += 1
        msg.meta["no_person"] = self.no_person
        windows: dict[int, list[tuple[int, WindowParams, bool, int]]] = {}
        for k, tid in enumerate(a["win_track"]):
            params = WindowParams(torch.from_numpy(a["win_rot"][k]), torch.from_numpy(a["win_lin"][k]))
            windows.setdefault(int(tid), []).append((int(a["win_start"][k]), params,
                                                     bool(a["win_tail"][k]), k))
        ended = [(int(t), int(n)) for t, n in zip(a["ended_tracks"], a["ended_len"], strict=True)]
        for tid, length in ended:  # before this frame's tracks: at a cut one may restart its id
            state = self.tracks.pop(tid)
            if state.per_frame is not None:
                tails = {s: self._per_frame_window(a, k) for s, _, tail, k in windows.get(tid, []) if tail}
                self._smooth_per_frame(state, state.per_frame.finish(length, tails), end=True)
            tails = {s: p for s, p, tail, _ in windows.get(tid, []) if tail}
            out += self._emit(tid, state, state.stitcher.finish(length, tails), end=True)
        for row, tid in enumerate(frame_tracks):
            if tid not in self.tracks:
                self.tracks[tid] = self._new_track()
            state = self.tracks[tid]
            state.frames[int(a["frame_local"][row])] = (msg, a["boxes"][row].copy())
        for row, tid in enumerate(frame_tracks):
            state = self.tracks[tid]
            regular = [(s, p, k) for s, p, tail, k in windows.get(tid, []) if not tail]
            if state.per_frame is not None:  # first, so the taps' frames are there for the network's
                for start, _, k in regular:
                    self._smooth_per_frame(state, state.per_frame.push(start, self._per_frame_window(a, k)))
                if not regular:
                    self._smooth_per_frame(state, state.per_frame.advance(int(a["frame_local"][row])))
            if regular:
                for start, params, _ in regular:
                    out += self._emit(tid, state, state.stitcher.push(start, params))
            else:
                out += self._emit(tid, state, state.stitcher.advance(int(a["frame_local"][row])))
        if not final:
            out.append(msg.derive("progress", {}, {k: v for k, v in msg.meta.items()
                                                   if k in ("dropped", "no_person", "rejected")}))
        return out
