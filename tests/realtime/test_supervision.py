"""Stall detection rules and the output guard, on explicit clocks."""

from __future__ import annotations

import numpy as np
import pytest
from stmocap.realtime.guard import FiniteGuard, NonFiniteError
from stmocap.realtime.messages import Message
from stmocap.realtime.supervision import StallWatch


def _watch(timeout: float = 5.0) -> StallWatch:
    w = StallWatch(["worker 0 (source)", "worker 1 (detect,perframe)"], ["source", "detect"],
                   timeout)
    w.flowing(0.0)
    return w


def test_idle_without_waiting_input_never_stalls() -> None:
    w = _watch()
    for t in range(0, 100):  # a live camera without frames: nothing sent, nothing received
        w.beat(0, 0, 0, None, float(t))
        w.beat(1, 0, 0, None, float(t))
        assert w.check(float(t)) is None


def test_stuck_stage_with_waiting_input_stalls_naming_it() -> None:
    w = _watch()
    w.beat(0, 0, 10, None, 0.0)
    w.beat(1, 9, 9, None, 0.0)  # idle until now …
    for t in range(1, 6):
        w.beat(0, 0, 11, None, float(t))  # … then one more message waits for it
        w.beat(1, 9, 9, "temporal", float(t))  # still beating, no progress
        assert w.check(float(t)) is None
    for t in (6.0, 6.5, 7.0):
        w.beat(0, 0, 11, None, t)
        w.beat(1, 9, 9, "temporal", t)
    msg = w.check(7.0)
    assert msg is not None and "stage temporal (worker 1 (detect,perframe)) made no progress" in msg


def test_late_input_after_long_idle_is_not_a_stall() -> None:
    w = _watch()
    w.beat(0, 0, 5, None, 0.0)
    w.beat(1, 5, 5, None, 0.0)
    w.beat(0, 0, 6, None, 60.0)  # a frame after a minute of nothing
    w.beat(1, 5, 5, None, 60.0)
    assert w.check(60.0) is None


def test_silence_stalls_and_a_finished_worker_does_not() -> None:
    w = _watch()
    w.beat(0, 0, 0, None, 0.0)
    w.beat(1, 0, 0, None, 0.0)
    w.beat(0, 0, 0, None, 6.0)
    msg = w.check(6.0)
    assert msg is not None and "stage detect" in msg and "no heartbeat" in msg
    w.done(1)
    assert w.check(6.0) is None
    assert _watch(0).check(1e9) is None  # disabled


def test_setup_time_is_not_silence() -> None:
    w = StallWatch(["worker 0 (source)", "worker 1 (detect)"], ["source", "detect"], 5.0)
    w.beat(0, 0, 0, None, 0.0)
    w.beat(1, 0, 0, None, 0.0)
    assert w.check(30.0) is None  # a session being created holds the interpreter: no beats
    w.flowing(30.0)
    assert w.check(34.0) is None
    assert "no heartbeat" in (w.check(36.0) or "")


def test_guard_drops_counts_and_ends_after_a_run() -> None:
    guard = FiniteGuard(limit=3)
    good = Message(kind="body", arrays={"vertices": np.zeros((4, 3), np.float32)})
    bad = Message(kind="body", arrays={"vertices": np.full((4, 3), np.nan, np.float32)})
    assert guard("body", [good, bad]) == [good]
    assert guard("body", [bad, good, bad, bad]) == [good]
    with pytest.raises(NonFiniteError, match="'vertices' has NaN/Inf"):
        guard("body", [bad])
    assert guard.dropped["body"] == 5
    ints = Message(kind="faces", arrays={"faces": np.zeros((2, 3), np.int32)})
    assert guard("body", [ints]) == [ints]


@pytest.mark.parametrize(("field", "value", "match"),
                         [("stall_timeout", -1.0, "--stall-timeout"),
                          ("stall_timeout", float("nan"), "--stall-timeout"),
                          ("nonfinite_limit", -2, "--nonfinite-limit")])
def test_bad_limits_are_one_line_errors(field: str, value: float, match: str) -> None:
    from dataclasses import replace

    from stmocap.realtime.graph import make_specs
    from stmocap.realtime.pipeline import PipelineConfig

    cfg = PipelineConfig()
    cfg = replace(cfg, graph=replace(cfg.graph, **{field: value}))
    with pytest.raises(ValueError, match=match):
        make_specs(cfg, "ipc:///tmp/x", "/tmp")
