"""The stmocap command: help, version, inspect, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stmocap.cli import main


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stmocap", *args], capture_output=True, text=True)


def test_help_and_version() -> None:
    out = _run("--help")
    assert out.returncode == 0 and "inspect" in out.stdout and "version" in out.stdout
    out = _run("version")
    assert out.returncode == 0 and out.stdout.startswith("stmocap ")
    assert "torch" in out.stdout


def test_inspect_temporal_tiny_with_options_and_config(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[temporal]\nlstm_hidden = 40\ngamma3_channels = [4, 8]\n")
    assert main(["inspect", "temporal", "--preset", "tiny", "--config", str(cfg),
                 "--lstm-layers", "2", "--time", "2"]) == 0
    out = capsys.readouterr().out
    assert "LSTM 2×40" in out and "median" in out
    # LSTM layer: 4h·(in + h) + 8h; in = 64 + 157 then h = 40 → 42,080 + 13,120; head 40·157 + 157.
    assert "61,637 parameters" in out


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[temporal]\nlstm_hiden = 3\n")
    out = _run("inspect", "temporal", "--preset", "tiny", "--config", str(bad))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert "unknown key 'lstm_hiden'; did you mean 'lstm_hidden'" in out.stderr
    out = _run("inspect", "temporal", "--config", str(tmp_path / "missing.toml"))
    assert out.returncode == 2 and "config file not found" in out.stderr


def test_inspect_body(smpl_model_dir: Path) -> None:
    out = _run("inspect", "body", "--model", str(smpl_model_dir), "--time", "2")
    assert out.returncode == 0, out.stderr
    assert "6890 vertices" in out.stdout and "24 joints" in out.stdout
    out = _run("inspect", "body")  # default: the built-in free body
    assert out.returncode == 0 and "free_body.npz: 13718 vertices" in out.stdout
    out = _run("inspect", "body", "--model", str(smpl_model_dir / "missing"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "smpl.is.tue.mpg.de" in out.stderr


@pytest.fixture()
def smpl_model_dir(tmp_path: Path) -> Path:
    from stmocap.models.body.synthetic import make_synthetic_body, write_smpl_pickle

    write_smpl_pickle(make_synthetic_body(), tmp_path / "SMPL_NEUTRAL.pkl")
    return tmp_path


def test_render_writes_video_and_truth(tmp_path: Path) -> None:
    import numpy as np

    out = _run("render", "run", str(tmp_path / "run.avi"), "--width", "160", "--height", "120",
               "--background", "plain", "--seed", "2")
    assert out.returncode == 0, out.stderr
    gt = np.load(tmp_path / "run.npz")
    assert gt["joints2d"].shape == (25, 24, 2) and tuple(gt["image_size"]) == (160, 120)
    np.testing.assert_array_equal(gt["betas"], np.zeros((25, 10)))  # the mean body by default
    out = _run("render", "run", str(tmp_path / "tall.avi"), "--width", "160", "--height", "120",
               "--background", "plain", "--seed", "2", "--shape-sigma", "1")
    assert out.returncode == 0, out.stderr
    from stmocap.groundtruth.shapes import random_betas

    shaped = np.load(tmp_path / "tall.npz")  # the body drawn from the scene's seed, in the truth
    np.testing.assert_allclose(shaped["betas"], np.tile(random_betas(2, 1.0), (25, 1)), atol=1e-6)
    assert np.abs(shaped["joints3d"] - gt["joints3d"]).max() > 0.01
    out = _run("render", "moonwalk", str(tmp_path / "x.avi"))
    assert out.returncode == 2 and "available: backflip" in out.stderr
    out = _run("render", "walk", str(tmp_path / "x.mp4"))
    assert out.returncode == 2 and ".avi" in out.stderr
    out = _run("render", "run,moonwalk", str(tmp_path / "x.avi"))
    assert out.returncode == 2 and "'moonwalk'" in out.stderr and "available:" in out.stderr


def test_render_cuts_several_clips_together(tmp_path: Path) -> None:
    """``run,punch``: two shots, the second filmed with seed + 1, on the same body; the truth
    says which shot each frame is, and the cut detector finds the cut."""
    import numpy as np
    from stmocap.realtime.cuts import CutDetector
    from stmocap.realtime.sources import SourceConfig, open_source

    args = ["--width", "160", "--height", "120", "--seed", "2", "--shape-sigma", "1"]
    out = _run("render", "run,punch", str(tmp_path / "two.avi"), *args)
    assert out.returncode == 0, out.stderr
    assert "2 shots" in out.stderr
    gt = np.load(tmp_path / "two.npz")
    assert list(gt["names"]) == ["run", "punch"]
    cut = int(np.flatnonzero(gt["shot"] == 1)[0])
    assert cut == 25 and len(gt["shot"]) > cut
    assert np.ptp(gt["betas"], axis=0).max() == 0  # one person in both shots
    assert _run("render", "run", str(tmp_path / "one.avi"), *args).returncode == 0
    one = np.load(tmp_path / "one.npz")  # the first shot is the single-clip render
    np.testing.assert_allclose(gt["joints2d"][:cut], one["joints2d"], atol=1e-4)
    detect = CutDetector(0.15)
    with open_source(SourceConfig(source=str(tmp_path / "two.avi"))) as src:
        found = [detect(f.image) for f in src]
    assert list(np.flatnonzero(found)) == [cut]
