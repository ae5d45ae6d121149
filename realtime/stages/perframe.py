"""Per-frame stage: initial SMPL pose/shape/camera (and features) for every tracked person.

``ReplayEstimates`` reads them from a recording (``.npz`` with per-frame arrays ``pose_6d
(N, 24, 6)``, ``betas (N, 10)``, ``cam (N, 3)`` and optionally ``feats (N, C, S, S)``), indexed by
the frame number: the graph's behaviour can then be checked against an offline computation on the
same numbers. A frame whose ``pose_6d`` is all NaN was recorded without a person: it gets no
track. Model-backed stages (BlazePose + IK, HMR2.0 + CSE) produce the same message.

Output ``estimates`` arrays, per track ``T``: ``track_ids (T,)``, ``boxes (T, 4)`` (x0, y0, x1, y1
pixels), ``pose_6d (T, 24, 6)``, ``betas (T, 10)``, ``cam (T, 3)`` and optional ``feats``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from stmocap.realtime.messages import Message
from stmocap.realtime.schema import F32, I64, ArrayRule, KindSchema, schemas
from stmocap.realtime.stages.base import Stage

ESTIMATE_KEYS = ("pose_6d", "betas", "cam")
# What the full-frame detect stage sends: each track's box and the frame itself.
IMAGE_DETECTIONS = schemas({"detections": KindSchema({
    "track_ids": ArrayRule(I64, ("T",)), "boxes": ArrayRule(F32, ("T", 4)),
    "image": ArrayRule(("uint8",), (None, None, 3))})})


class ReplayEstimates(Stage):
    name = "perframe"
    consumes = ("detections",)
    produces = ("estimates",)
    inputs = IMAGE_DETECTIONS

    def __init__(self, path: Path) -> None:
        path = Path(path)
        try:
            with np.load(path) as data:
                self.data = {k: np.asarray(data[k], np.float32) for k in data.files
                             if k in (*ESTIMATE_KEYS, "feats")}
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read estimates {path}: {exc}") from exc
        missing = [k for k in ESTIMATE_KEYS if k not in self.data]
        if missing:
            raise ValueError(f"estimates file {path} lacks {missing} (needs pose_6d, betas, cam)")
        self.frames = len(self.data["pose_6d"])

    def process(self, msg: Message) -> list[Message]:
        if msg.seq >= self.frames:
            raise ValueError(f"frame {msg.seq} has no recorded estimate ({self.frames} recorded)")
        tracks, boxes = msg.arrays["track_ids"], msg.arrays["boxes"]
        if np.isnan(self.data["pose_6d"][msg.seq]).all():  # recorded without a person
            tracks, boxes = tracks[:0], boxes[:0]
        arrays = {"track_ids": tracks, "boxes": boxes}
        for key, values in self.data.items():
            arrays[key] = np.repeat(values[msg.seq][None], len(tracks), axis=0)
        meta = dict(msg.meta)
        meta["image_size"] = list(msg.arrays["image"].shape[1::-1])
        return [msg.derive("estimates", arrays, meta)]
