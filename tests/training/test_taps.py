"""``stmocap fit-taps`` on a real render, its file through ``--filter taps``, and the refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from stmocap.models.temporal.taps import load_taps
from stmocap.training.taps import runs


def test_runs_split_at_missing_frames() -> None:
    assert runs([0, 1, 2, 5, 6, 9]) == [[0, 1, 2], [5, 6], [9]]
    assert runs([]) == []


def _stmocap(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stmocap", *args], capture_output=True, text=True,
                          env=env)


def _fit_run_clip(out: Path, env: dict[str, str], *extra: str) -> str:
    """``stmocap fit-taps`` on the short clip ``run`` with 3 frames of history; its stdout."""
    done = _stmocap("fit-taps", "--clips", "run", "--min-frames", "0", "--history", "3", *extra,
                    "--out", str(out), "--no-progress", env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_fit_taps_then_run_with_them(tmp_path: Path) -> None:
    env = {**os.environ, "STMOCAP_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "taps.json"
    assert "4 taps fitted on 25 frames of 1 clips" in _fit_run_clip(out, env, "--accel-weight", "2")
    taps = load_taps(out)
    assert len(taps.weights) == 4 and abs(taps.weights.sum() - 1) < 1e-9
    assert taps.meta["fitted_on"] == ["run"] and taps.meta["accel_weight"] == 2.0
    assert "fit-taps --clips run" in taps.meta["command"]
    m = taps.meta["metrics_on_fit_clips"]
    assert m["taps"]["accel"] < m["raw"]["accel"]  # λ = 2: smoother than the raw estimates
    # the closed loop with those taps as the filter: `filtered` is theirs, not the One-Euro one
    rows = {}
    for name, extra in (("taps", ["--filter", "taps", "--taps", str(out)]),
                        ("alone", ["--taps", str(out)]), ("euro", ["--filter", "one-euro"])):
        done = _stmocap("eval", "--closed-loop", "--clips", "run", "--min-frames", "0", *extra,
                        "--out", str(tmp_path / name), env=env)
        assert done.returncode == 0, done.stderr
        rows[name] = json.loads((tmp_path / name / "closed_loop.json").read_text())[0]["metrics"]
    assert rows["alone"] == rows["taps"]  # --taps FILE alone selects --filter taps
    assert rows["taps"]["raw"] == rows["euro"]["raw"]
    assert rows["taps"]["filtered"] != rows["euro"]["filtered"]
    assert rows["taps"]["filtered"]["accel"] < rows["taps"]["raw"]["accel"]
    # the in-sample score the file records is what the graph's filter gives on the same frames
    assert np.isclose(rows["taps"]["filtered"]["mpjpe"], m["taps"]["mpjpe"], atol=0.01)
    assert np.isclose(rows["taps"]["filtered"]["accel"], m["taps"]["accel"], atol=0.01)


def test_fit_taps_with_lookahead_then_eval_them_at_that_lookahead(tmp_path: Path) -> None:
    """Taps reading 2 frames ahead, fitted and then run by the graph at --lookahead 2 with no
    network: the graph gives the file's in-sample score, and the file's One-Euro row is the
    forward-backward filter at the same lookahead (eval's `smoothed`)."""
    env = {**os.environ, "STMOCAP_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "taps_l2.json"
    assert "6 taps fitted" in _fit_run_clip(out, env, "--lookahead", "2")
    taps = load_taps(out)
    assert taps.lookahead == 2 and len(taps.weights) == 6
    m = taps.meta["metrics_on_fit_clips"]
    done = _stmocap("eval", "--closed-loop", "--clips", "run", "--min-frames", "0", "--lookahead",
                    "2", "--temporal", "none", "--taps", str(out), "--out", str(tmp_path / "e"),
                    env=env)
    assert done.returncode == 0, done.stderr
    got = json.loads((tmp_path / "e" / "closed_loop.json").read_text())[0]["metrics"]
    assert np.isclose(got["filtered"]["mpjpe"], m["taps"]["mpjpe"], atol=0.01)
    assert np.isclose(got["filtered"]["accel"], m["taps"]["accel"], atol=0.01)
    assert np.isclose(got["smoothed"]["mpjpe"], m["one-euro"]["mpjpe"], atol=0.01)
    assert got["filtered"]["accel"] < got["raw"]["accel"]
    # the same taps in a graph that waits for fewer frames than they read: refused up front
    done = _stmocap("eval", "--closed-loop", "--clips", "run", "--lookahead", "1", "--temporal",
                    "none", "--taps", str(out), env=env)
    assert done.returncode == 2 and "read 2 frames ahead and --lookahead is 1" in done.stderr


def test_taps_options_are_checked_up_front(tmp_path: Path) -> None:
    env = {**os.environ, "STMOCAP_CACHE": str(tmp_path / "cache")}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "stmocap-taps", "version": 1, "taps": [0.7, 0.7]}))
    for args, words in ((["--filter", "one-euro", "--taps", str(bad)], ["--taps", "--filter one-euro"]),
                        (["--filter", "taps", "--taps", str(bad)], ["sum to 1", "bad.json"]),
                        (["--taps", str(bad)], ["sum to 1", "bad.json"]),  # --taps alone: taps
                        (["--filter", "taps", "--taps", str(tmp_path / "no.json")], ["no such taps file"])):
        done = _stmocap("eval", "--closed-loop", "--clips", "run", *args, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert all(w in done.stderr for w in words), done.stderr
    done = _stmocap("fit-taps", "--out", str(tmp_path / "x.json"), "--profile", "paper",
                    "--random-weights", env=env)
    assert done.returncode == 2 and "--profile lite" in done.stderr
