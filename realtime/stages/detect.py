"""Detect/track stage: boxes and stable track ids per frame.

``FullFrameDetector`` treats the whole frame as one person with track id 0 (for replayed estimates
and single-person clips); the lite profile's BlazePose detector with tracking replaces it.
"""

from __future__ import annotations

import numpy as np
from stmocap.realtime.messages import Message
from stmocap.realtime.schema import ArrayRule, KindSchema, schemas
from stmocap.realtime.stages.base import Stage


class FullFrameDetector(Stage):
    name = "detect"
    consumes = ("frame",)
    produces = ("detections",)
    inputs = schemas({"frame": KindSchema({"image": ArrayRule(("uint8",), (None, None, 3))})})

    def process(self, msg: Message) -> list[Message]:
        h, w = msg.arrays["image"].shape[:2]
        arrays = {"image": msg.arrays["image"],
                  "boxes": np.array([[0.0, 0.0, w, h]], np.float32),
                  "track_ids": np.array([0], np.int64)}
        return [msg.derive("detections", arrays, dict(msg.meta))]
