"""Detect/track stages: boxes and stable track ids per frame.

``FullFrameDetector`` treats the whole frame as one person with track id 0 (for replayed estimates
and single-person clips); the lite profile's BlazePose stage (:mod:`stmocap.realtime.stages.lite`)
replaces it there. ``TrackedPersonDetector`` runs any
:class:`~stmocap.models.people.base.PersonDetector` (a user's ONNX model: docs/detectors.md) and
gives its boxes ids with :class:`~stmocap.realtime.tracking.Tracker`, for per-frame models that
take a person crop.

``detections`` arrays: ``image (H, W, 3)`` (forwarded for crop models), ``track_ids (T,)`` and
``boxes (T, 4)`` (x0, y0, x1, y1 pixels) of the confirmed people detected on this frame, by id.
"""

from __future__ import annotations

import numpy as np
from stmocap.models.people.base import PersonDetector
from stmocap.realtime.messages import Message
from stmocap.realtime.schema import ArrayRule, KindSchema, schemas
from stmocap.realtime.stages.base import Stage
from stmocap.realtime.tracking import Tracker, TrackerConfig


class FullFrameDetector(Stage):
    """One person filling every frame, id 0; with ``cut_threshold`` > 0, ``meta["cut"]`` marks a
    shot cut (:mod:`stmocap.realtime.cuts`), where the later stages start the track afresh."""

    name = "detect"
    consumes = ("frame",)
    produces = ("detections",)
    inputs = schemas({"frame": KindSchema({"image": ArrayRule(("uint8",), (None, None, 3))})})

    def __init__(self, cut_threshold: float = 0.0) -> None:
        from stmocap.realtime.cuts import CutDetector

        self.cuts = CutDetector(cut_threshold)

    def process(self, msg: Message) -> list[Message]:
        h, w = msg.arrays["image"].shape[:2]
        arrays = {"image": msg.arrays["image"],
                  "boxes": np.array([[0.0, 0.0, w, h]], np.float32),
                  "track_ids": np.array([0], np.int64)}
        meta = dict(msg.meta)
        if self.cuts(msg.arrays["image"]):
            meta["cut"] = True
        return [msg.derive("detections", arrays, meta)]


class TrackedPersonDetector(Stage):
    """A person detector on every frame plus the tracker: each person's box and stable id.

    A person the detector misses on a frame is not in that frame's detections but keeps the id
    while the tracker coasts it (``TrackerConfig.max_missed``). Frames are RGB as the sources give
    them. ``meta["more_people"]`` counts frames with more detections than ``max_people`` (0: no
    limit), as the lite profile does.
    """

    name = "detect"
    consumes = ("frame",)
    produces = ("detections",)
    inputs = schemas({"frame": KindSchema({"image": ArrayRule(("uint8",), (None, None, 3))})})

    def __init__(self, detector: PersonDetector, tracker: TrackerConfig | None = None,
                 max_people: int = 0) -> None:
        from dataclasses import replace

        self.detector = detector
        self.tracker = Tracker(replace(tracker or TrackerConfig(), max_tracks=max_people))
        self.max_people = max_people
        self.more_people = 0

    def process(self, msg: Message) -> list[Message]:
        image = msg.arrays["image"]
        boxes, scores = self.detector(image)
        self.more_people += bool(self.max_people) and len(boxes) > self.max_people
        frame = self.tracker.update(boxes, scores)
        arrays = {"image": image, "track_ids": frame.ids, "boxes": frame.boxes}
        return [msg.derive("detections", arrays, {**msg.meta, "more_people": self.more_people})]
