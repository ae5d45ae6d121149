"""Bad options and config files stop the command at once: one line naming the option and the
allowed range, exit code 2, no traceback (real ``stmocap`` processes)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stmocap", *args], capture_output=True, text=True,
                          timeout=timeout)


def _one_line_error(out: subprocess.CompletedProcess, *needles: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert "error:" in last, out.stderr
    for needle in needles:
        assert needle in last, (needle, out.stderr)
    assert "publishing on" not in out.stderr


# (command line, what the error line must say). Every one of these was accepted, crashed with a
# traceback, or changed behaviour silently before validation (issue 10).
BAD_OPTIONS = [
    (["run", "--frames", "-1"], ["--frames", ">= 0", "got -1"]),
    (["run", "--fps", "0"], ["--fps", "> 0", "got 0"]),
    (["run", "--fps", "-5"], ["--fps", "> 0"]),
    (["run", "--fps", "nan"], ["--fps", "> 0"]),
    (["run", "--width", "0"], ["--width", "> 0"]),
    (["run", "--min-cutoff", "-1"], ["--min-cutoff", "> 0"]),
    (["run", "--beta", "-0.5"], ["--beta", ">= 0"]),
    (["run", "--taps-weight", "1.5"], ["--taps-weight", "in 0..1", "got 1.5"]),
    (["run", "--taps-weight", "0.3"], ["--taps-weight", "none is mixed", "temporal none"]),
    (["run", "--lookahead", "1", "--filter", "taps"], ["no shipped taps for --lookahead 1",
                                                       "fit-taps --lookahead 1"]),
    (["run", "--d-cutoff", "0"], ["--d-cutoff", "> 0"]),
    (["run", "--hwm", "0"], ["--hwm", ">= 1"]),
    (["run", "--queue", "0"], ["--queue", ">= 1"]),
    (["run", "--stats-period", "0"], ["--stats-period", "> 0"]),
    (["run", "--process-threads", "-1"], ["--process-threads", ">= 0"]),
    (["run", "--wait-subscribers", "-2"], ["--wait-subscribers", ">= 0"]),
    (["run", "--window", "0"], ["--window", ">= 1"]),
    (["run", "--stride", "0"], ["--stride", ">= 1"]),
    (["run", "--lookahead", "-1"], ["--lookahead", ">= 0"]),
    (["run", "--ik-iterations", "-1"], ["--ik-iterations", ">= 0"]),
    (["run", "--ik-aim", "1.5"], ["--ik-aim", "in 0..1"]),
    (["run", "--person-height", "175"], ["--person-height", "1.75, not 175"]),
    (["run", "--person-height", "-1"], ["--person-height", "in metres"]),
    (["run", "--person-height", "1.8", "--profile", "replay", "--estimates", "x.npz"],
     ["--person-height is for the lite profile"]),
    (["eval", "--closed-loop", "--height-error", "0.05"], ["--height-error", "--given-height"]),
    (["run", "--landmark-embedding", "--lookahead", "7"],
     ["--landmark-embedding", "lite_l7.pt", "trained without the embedding"]),
    (["run", "--source", ""], ["--source", "must not be empty"]),
    (["run", "--endpoint", "tcp://127.0.0.1:99999"], ["--endpoint", "1..65535"]),
    (["run", "--endpoint", "tcp://127.0.0.1"], ["--endpoint", "tcp://HOST:PORT"]),
    (["run", "--endpoint", "foo"], ["--endpoint", "tcp://HOST:PORT or ipc://PATH"]),
    (["run", "--device", "gpu"], ["--device", "cpu, cuda"]),
    (["run", "--engine", "trt"], ["--engine", "onnxruntime"]),
    (["run", "--precision", "fp16"], ["--precision fp16", "--device cuda"]),
    (["listen", "foo"], ["endpoint", "tcp://HOST:PORT"]),
    (["listen", "tcp://*:5556"], ["endpoint", "not *"]),
    (["listen", "tcp://127.0.0.1:0"], ["endpoint", "1..65535"]),
    (["listen", "tcp://127.0.0.1:5556", "--count", "-1"], ["--count", ">= 0"]),
    (["listen", "tcp://127.0.0.1:5556", "--timeout", "-1"], ["--timeout", ">= 0"]),
    (["listen", "tcp://127.0.0.1:5556", "--topics", "pose,foo"], ["--topics", "pose, mesh, stats"]),
    (["inspect", "temporal", "--batch", "-1"], ["--batch", "> 0"]),
    (["inspect", "temporal", "--time", "-1"], ["--time", ">= 0"]),
    (["inspect", "temporal", "--threads", "-1"], ["--threads", ">= 0"]),
    (["inspect", "temporal", "--lstm-layers", "0"], ["--lstm-layers", ">= 1"]),
    (["inspect", "temporal", "--dropout", "2"], ["--dropout", "0..1"]),
    (["inspect", "body", "--batch", "0"], ["--batch", "> 0"]),
    (["bench", "--engines", "torch", "--calls", "0"], ["--calls", "> 0"]),
    (["bench", "--engines", "torch", "--warmup", "-1"], ["--warmup", ">= 0"]),
    (["export", "--opset", "5"], ["--opset", "17..20"]),
    (["export", "--min-batch", "8", "--opt-batch", "4"], ["--min-batch <= --opt-batch"]),
    (["render", "walk", "x.avi", "--min-frames", "-1"], ["--min-frames", ">= 0"]),
    (["render", "walk", "x.avi", "--fov", "0"], ["--fov", "1..179"]),
    (["render", "walk", "x.avi", "--shape-sigma", "-1"], ["--shape-sigma", ">= 0"]),
    (["eval", "--closed-loop", "--occluders", "-1"], ["--occluders", ">= 0"]),
    (["eval", "--closed-loop", "--min-frames", "-1"], ["--min-frames", ">= 0"]),
    (["eval", "--closed-loop", "--shape-sigma", "-1"], ["--shape-sigma", ">= 0"]),
    (["eval", "--closed-loop", "--camera-elevation", "95"], ["--camera-elevation", "-89..89"]),
    (["eval", "--closed-loop", "--light-jitter", "-0.1"], ["--light-jitter", ">= 0"]),
    (["train-data", "--out", "x.npz", "--shape-sigma", "-0.5"], ["--shape-sigma", ">= 0"]),
    (["keys", "k", "--client", "../x"], ["--client", "letters"]),
    (["run", "--preview", "--preview-quality", "0"], ["--preview-quality", "1..100", "got 0"]),
    (["run", "--preview-quality", "101"], ["--preview-quality", "1..100"]),
    (["run", "--preview-width", "8"], ["--preview-width", "0 (full size) or in 16..65535"]),
    (["run", "--preview-width", "-1"], ["--preview-width", "16..65535"]),
    (["run", "--preview-fps", "-1"], ["--preview-fps", ">= 0"]),
    (["run", "--preview-fps", "nan"], ["--preview-fps", ">= 0"]),
    (["listen", "tcp://127.0.0.1:5556", "--topics", "previews"], ["--topics", "stats, preview"]),
    (["run", "--profile", "paper", "--hmr2", "/nonexistent/hmr2.ckpt"],
     ["HMR2.0", "/nonexistent/hmr2.ckpt not found", "--hmr2 PATH", "stmocap models", "--random-weights"]),
    (["run", "--paper-short-side", "0"], ["--paper-short-side", ">= 1"]),
    (["run", "--person-detector", "yolo"], ["--person-detector", "full-frame"]),
]


def _main(argv: list[str], capsys: pytest.CaptureFixture) -> subprocess.CompletedProcess:
    """``stmocap.cli.main`` in this process (argparse exits with 2): the same code path as the
    command, without a Python start per case; a few cases run as real processes below."""
    from stmocap.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, captured.out, captured.err)


@pytest.mark.parametrize(("argv", "needles"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_is_one_line_naming_it(argv: list[str], needles: list[str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _one_line_error(_main(argv, capsys), *needles)
    assert not (tmp_path / "k").exists() and not (tmp_path / "x.avi").exists()


@pytest.mark.parametrize("index", [0, 1, 8, 9, 18, 23, 24, 30, 45])
def test_bad_option_in_a_real_process(index: int, tmp_path: Path) -> None:
    argv, needles = BAD_OPTIONS[index]
    out = subprocess.run([sys.executable, "-m", "stmocap", *argv], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    _one_line_error(out, *needles)


def test_port_in_use_fails_before_publishing(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = _run("run", "--source", str(tmp_path / "missing.mp4"), "--endpoint",
                   f"tcp://127.0.0.1:{port}")
        _one_line_error(out, "source not found")
        folder = tmp_path / "images"
        folder.mkdir()
        import cv2
        import numpy as np

        cv2.imwrite(str(folder / "a.png"), np.zeros((8, 8, 3), np.uint8))
        out = _run("run", "--source", str(folder), "--endpoint", f"tcp://127.0.0.1:{port}")
        _one_line_error(out, f"cannot publish on tcp://127.0.0.1:{port}", "in use")


def test_missing_files_named_before_starting(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    out = _run("run", "--source", "demo", "--profile", "replay", "--estimates",
               str(tmp_path / "nope.npz"))
    _one_line_error(out, "--estimates", "nope.npz")
    out = _run("run", "--source", "demo", "--keys", str(tmp_path / "nokeys"))
    _one_line_error(out, "--keys", "nokeys")
    out = _run("listen", "tcp://127.0.0.1:5556", "--keys", str(tmp_path / "nokeys"))
    _one_line_error(out, "--keys", "nokeys")


CONFIGS = [
    ("[sourc]\nfps = 3\n", ["unknown table 'sourc'", "did you mean 'source'"]),
    ("fps = 3\n", ["unknown top-level key 'fps'", "belongs in [source]"]),
    ("[source]\nfpss = 3\n", ["[source]", "unknown key 'fpss'", "did you mean 'fps'"]),
    ("[smoothing]\nmin_cutoff = \"fast\"\n", ["[smoothing]", "min_cutoff must be a number"]),
    ("[smoothing]\nbeta = -1\n", ["[smoothing]", "beta must be >= 0 (got -1)"]),
    ("[graph]\nhwm = 0\n", ["[graph]", "hwm must be >= 1"]),
    ("[graph]\nframes = 1.5\n", ["[graph]", "frames must be an integer"]),
    ("[source]\nrealtime = 1\n", ["[source]", "realtime must be true or false"]),
    ("[plan]\nweights = \"middle\"\n", ["[plan]", "weights must be one of 'uniform', 'centre'"]),
    ("[publish]\nendpoint = \"tcp://127.0.0.1:70000\"\n", ["[publish]", "endpoint", "1..65535"]),
    ("source = \"demo\"\n", ["source must be a table [source]"]),
    ("graph = 3\n", ["graph must be a table"]),
    ("[preview]\npreview_quality = 0\n", ["[preview]", "preview_quality must be in 1..100"]),
    ("[preview]\npreview = \"yes\"\n", ["[preview]", "preview must be true or false"]),
    ("[preview]\nquality = 90\n", ["[preview]", "unknown key 'quality'", "preview_quality"]),
    ("[publish]\npreview = true\n", ["[publish]", "unknown key 'preview'"]),
]


@pytest.mark.parametrize(("text", "needles"), CONFIGS, ids=[c.split("\n")[0] for c, _ in CONFIGS])
def test_bad_config_file_is_one_line_naming_key(text: str, needles: list[str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "run.toml"
    path.write_text(text)
    out = _main(["run", "--source", "demo", "--config", str(path)], capsys)
    _one_line_error(out, str(path), *needles)


def test_undecodable_and_unreadable_config_files_are_named(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[source]\n")
    _one_line_error(_run("run", "--config", str(binary)), str(binary), "UTF-8")
    broken = tmp_path / "broken.toml"
    broken.write_text("[source\n")
    _one_line_error(_run("run", "--config", str(broken)), str(broken), "not valid TOML")
    _one_line_error(_run("run", "--config", str(tmp_path)), str(tmp_path), "folder")
    _one_line_error(_run("inspect", "temporal", "--config", str(binary)), str(binary), "UTF-8")


def test_eval_config_may_hold_closed_loop_table(tmp_path: Path) -> None:
    path = tmp_path / "eval.toml"
    path.write_text("[closed_loop]\nmin_frames = -3\n")
    _one_line_error(_run("eval", "--closed-loop", "--config", str(path)), "[closed_loop]",
                    "min_frames must be >= 0")


def test_good_config_values_reach_the_run(tmp_path: Path) -> None:
    from stmocap.cli import build_parser
    from stmocap.commands.run import pipeline_config
    from stmocap.config import ConfigError

    path = tmp_path / "run.toml"
    path.write_text("[source]\nfps = 12\n[smoothing]\nbeta = 0\n[graph]\nframes = 7\n"
                    "[plan]\nwindow = 8\nstride = 2\nlookahead = 3\n")
    args = build_parser().parse_args(["run", "--config", str(path), "--frames", "9"])
    cfg = pipeline_config(args)
    assert cfg.source.fps == 12.0 and isinstance(cfg.source.fps, float)
    assert cfg.smoothing.beta == 0.0 and cfg.graph.frames == 9 and cfg.plan.window == 8
    path.write_text("[plan]\nstride = 0\n")
    with pytest.raises(ConfigError, match=r"\[plan\]: stride must be >= 1 \(got 0\)"):
        pipeline_config(build_parser().parse_args(["run", "--config", str(path)]))
