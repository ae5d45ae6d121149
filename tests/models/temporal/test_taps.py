"""The taps file (models/temporal/taps.py): round trip, every bad file refused, the shipped one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from stmocap.models.temporal.taps import (
    SHIPPED,
    Taps,
    load_taps,
    save_taps,
    shipped_lookaheads,
    shipped_taps,
    taps_file,
    taps_problem,
)
from stmocap.training.taps import TRAINING_MOTIONS


def test_round_trip_keeps_weights_and_metadata(tmp_path: Path) -> None:
    taps = Taps(np.array([0.5, 0.3, 0.2]), 25.0, {"accel_weight": 0.8, "fitted_on": ["run"]})
    save_taps(tmp_path / "t.json", taps)
    back = load_taps(tmp_path / "t.json")
    assert back.weights.tolist() == [0.5, 0.3, 0.2] and back.fps == 25.0
    assert back.meta == {"accel_weight": 0.8, "fitted_on": ["run"]} and back.lookahead == 0
    save_taps(tmp_path / "l.json", Taps(np.array([0.2, 0.5, 0.3]), lookahead=1))
    assert load_taps(tmp_path / "l.json").lookahead == 1


def test_taps_fit_the_graphs_lookahead_or_say_what_would() -> None:
    ahead = Taps(np.array([0.2, 0.5, 0.3]), lookahead=2)
    assert taps_problem(ahead, 2, 1) is None and taps_problem(ahead, 5, 4) is None
    assert "use --lookahead 2" in taps_problem(ahead, 1, 1)
    assert "use --stride 2" in taps_problem(ahead, 3, 3)
    assert taps_problem(Taps(np.array([1.0])), 0, 1) is None


def test_the_shipped_file_for_a_lookahead_or_the_reason(tmp_path: Path) -> None:
    assert 0 in shipped_lookaheads() and shipped_taps(0) == SHIPPED
    for L in shipped_lookaheads():
        assert load_taps(shipped_taps(L)).lookahead == L
    assert taps_file(tmp_path / "mine.json", 3) == tmp_path / "mine.json"
    assert taps_file(None, 0) == SHIPPED
    missing = next(L for L in range(1, 16) if L not in shipped_lookaheads())
    with pytest.raises(ValueError, match=f"no shipped taps for --lookahead {missing}.*fit-taps"):
        taps_file(None, missing)


@pytest.mark.parametrize("doc, message", [
    ("{", "not a taps file"),
    (json.dumps({"taps": [1.0]}), "no \"format\""),
    (json.dumps({"format": "stmocap-taps", "version": 9, "taps": [1.0]}), "version 9"),
    (json.dumps({"format": "stmocap-taps", "version": 1, "taps": [1.0], "lookahead": 2}),
     r"lookahead must be in 0\.\.0 \(1 taps\), got 2"),
    (json.dumps({"format": "stmocap-taps", "version": 1, "taps": [1.0], "lookahead": 0.5}),
     "whole number"),
    (json.dumps({"format": "stmocap-taps", "version": 1, "taps": [0.5, 0.4]}), "sum to 1"),
    (json.dumps({"format": "stmocap-taps", "version": 1, "taps": []}), "non-empty"),
    (json.dumps({"format": "stmocap-taps", "version": 1, "taps": [1.0], "fps": 0}), "fps"),
    (json.dumps({"format": "stmocap-taps", "version": 1}), "taps"),
    ('{"format": "stmocap-taps", "version": 1, "taps": [NaN, 1.0]}', "finite"),
])
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, doc: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(doc)
    with pytest.raises(ValueError, match=message) as err:
        load_taps(path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="no such taps file"):
        load_taps(tmp_path / "missing.json")


def test_the_shipped_taps_say_what_made_them() -> None:
    taps = load_taps(SHIPPED)
    held_out = {"walk", "kick", "dance_a", "cmu_01_01_c", "dance_b"}
    assert set(taps.meta["fitted_on"]) == set(TRAINING_MOTIONS.split(","))
    assert not held_out & set(taps.meta["fitted_on"])
    assert taps.meta["frames"] > 2000 and taps.meta["command"].startswith("stmocap fit-taps")
    assert len(taps.weights) == taps.meta["history"] + 1 and taps.fps == 30.0
    m = taps.meta["metrics_on_fit_clips"]
    # on the clips it was fitted on, it is smoother and more accurate than the One-Euro filter
    assert m["taps"]["mpjpe"] < m["one-euro"]["mpjpe"] and m["taps"]["accel"] < m["one-euro"]["accel"]
