"""Per-stage input schemas: what a stage reads is checked before it sees a message."""

from __future__ import annotations

import numpy as np
import pytest
from stmocap.realtime.messages import Message, MessageError
from stmocap.realtime.schema import validate
from stmocap.realtime.stages.body import BodyStage
from stmocap.realtime.stages.stitch import StitchStage
from stmocap.realtime.stages.window import WindowStage
from stmocap.realtime.windows import WindowPlan


def _estimates(t: int = 2, **over: np.ndarray) -> Message:
    arrays = {"track_ids": np.arange(t, dtype=np.int64), "boxes": np.zeros((t, 4), np.float32),
              "pose_6d": np.zeros((t, 24, 6), np.float32), "betas": np.zeros((t, 10), np.float32),
              "cam": np.zeros((t, 3), np.float32)}
    arrays.update(over)
    return Message(kind="estimates", arrays=arrays)


def test_a_message_that_fits_passes() -> None:
    validate(_estimates(), [WindowStage(WindowPlan())])
    validate(_estimates(0), [WindowStage(WindowPlan())])


@pytest.mark.parametrize(
    ("over", "match"),
    [({"pose_6d": np.zeros((2, 24, 5), np.float32)}, r"needs \(T, 24, 6\)"),
     ({"boxes": np.zeros((3, 4), np.float32)}, "T=3 but another array has T=2"),
     ({"cam": np.zeros((2, 3), np.float64)}, "is float64"),
     ({"track_ids": np.zeros((2, 1), np.int64)}, r"needs \(T\)")],
)
def test_shapes_dtypes_and_shared_sizes_are_checked(over: dict, match: str) -> None:
    with pytest.raises(MessageError, match=match):
        validate(_estimates(**over), [WindowStage(WindowPlan())])


def test_missing_array_and_meta() -> None:
    msg = _estimates()
    del msg.arrays["betas"]
    with pytest.raises(MessageError, match="lacks array 'betas'"):
        validate(msg, [WindowStage(WindowPlan())])
    params = Message(kind="params", arrays={
        "rotmats": np.zeros((24, 3, 3), np.float32), "betas": np.zeros(10, np.float32),
        "cam": np.zeros(3, np.float32), "box": np.zeros(4, np.float32)},
        meta={"image_size": [640, "480"]})
    stage = BodyStage.__new__(BodyStage)  # only its declared inputs are used
    with pytest.raises(MessageError, match="meta 'image_size'"):
        validate(params, [stage])


def test_window_outputs_may_be_absent_only_without_windows() -> None:
    empty = {"track_ids": np.zeros(0, np.int64), "boxes": np.zeros((0, 4), np.float32),
             "frame_local": np.zeros(0, np.int64), "win_track": np.zeros(0, np.int64),
             "win_start": np.zeros(0, np.int64), "win_tail": np.zeros(0, bool),
             "ended_tracks": np.zeros(0, np.int64), "ended_len": np.zeros(0, np.int64)}
    stitch = [StitchStage(WindowPlan())]
    validate(Message(kind="windows", arrays=dict(empty)), stitch)
    one = dict(empty, win_track=np.zeros(1, np.int64), win_start=np.zeros(1, np.int64),
               win_tail=np.zeros(1, bool))
    with pytest.raises(MessageError, match="lacks array 'win_rot'"):
        validate(Message(kind="windows", arrays=one), stitch)


def test_unknown_kinds_and_bad_counters_are_rejected() -> None:
    with pytest.raises(MessageError, match="unknown message kind"):
        validate(Message(kind="bogus"), [])
    with pytest.raises(MessageError, match="'dropped'"):
        validate(Message(kind="frame", meta={"dropped": -1}), [])
    with pytest.raises(MessageError, match="'rejected'"):
        validate(Message(kind="frame", meta={"rejected": {"1": "x"}}), [])
