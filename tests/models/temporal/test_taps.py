"""The taps file (models/temporal/taps.py): round trip, every bad file refused, the shipped one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from stmocap.models.temporal.taps import SHIPPED, Taps, load_taps, save_taps
from stmocap.training.taps import TRAINING_MOTIONS


def test_round_trip_keeps_weights_and_metadata(tmp_path: Path) -> None:
    taps = Taps(np.array([0.5, 0.3, 0.2]), 25.0, {"accel_weight": 0.8, "fitted_on": ["run"]})
    save_taps(tmp_path / "t.json", taps)
    back = load_taps(tmp_path / "t.json")
    assert back.weights.tolist() == [0.5, 0.3, 0.2] and back.fps == 25.0
    assert back.meta == {"accel_weight": 0.8, "fitted_on": ["run"]}


@pytest.mark.parametrize("doc, message", [
    ("{", "not a taps file"),
    (json.dumps({"taps": [1.0]}), "no \"format\""),
    (json.dumps({"format": "stmocap-taps", "version": 9, "taps": [1.0]}), "version 9"),
    (json.dumps({"format": "stmocap-taps", "version": 1, "taps": [1.0], "lookahead": 2}), "lookahead 2"),
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
