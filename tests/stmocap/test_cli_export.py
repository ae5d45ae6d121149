"""stmocap export / engines / bench end to end (subprocesses, real files)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, env_cache: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stmocap", *args], capture_output=True, text=True)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx_bindings") is None,
                    reason="tensorrt-rtx not installed")
def test_export_builds_onnx_and_rtx_engine_then_lists_it(tmp_path: Path) -> None:
    out = _run("export", "--model", "body", "--to", "onnx,tensorrt-rtx", "--out", str(tmp_path),
               "--cache", str(tmp_path / "cache"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "parity vs torch: worst relative error" in out.stdout
    assert (tmp_path / "body-default.fp32.onnx").is_file()
    assert (tmp_path / "body-default.fp32.onnx.meta.json").is_file()
    listed = _run("engines", "--cache", str(tmp_path / "cache"))
    assert listed.returncode == 0 and "body-default tensorrt-rtx fp32" in listed.stdout


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    out = _run("export", "--model", "nope", "--out", str(tmp_path))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "unknown model" in out.stderr
    out = _run("export", "--model", "temporal", "--to", "onnx,coreml", "--out", str(tmp_path))
    assert out.returncode == 2 and "--to takes" in out.stderr
    out = _run("export", "--model", "temporal", "--checkpoint", str(tmp_path / "missing.pt"),
               "--out", str(tmp_path), "--quiet")
    assert out.returncode == 2 and "temporal checkpoint not found" in out.stderr
    assert "Traceback" not in out.stderr


def test_bench_writes_markdown_section(tmp_path: Path) -> None:
    md = tmp_path / "bench.md"
    md.write_text("# Benchmarks\n\nkept text\n")
    for _ in range(2):  # the second run replaces the section instead of appending
        out = _run("bench", "--model", "temporal", "--engines", "torch,onnxruntime", "--calls", "3",
                   "--warmup", "1", "--markdown", str(md))
        assert out.returncode == 0, out.stderr
    text = md.read_text()
    assert text.count("stmocap-bench:engines:start") == 1 and "kept text" in text
    assert "| temporal-tiny | onnxruntime | fp32 | cpu | 1 |" in text
    row = next(line for line in text.splitlines() if "| onnxruntime |" in line)
    assert float(row.split("|")[-2]) < 1e-4  # ONNX Runtime output matches torch on the same feed


def test_keys_run_listen_record_and_graph_bench(tmp_path: Path) -> None:
    import numpy as np

    media = tmp_path / "media"
    made = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "scripts" /
                                               "make_replay_media.py"), str(media), "--frames", "40",
                           "--size", "160x120"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    keys = tmp_path / "keys"
    assert _run("keys", str(keys)).returncode == 0
    assert (keys / "server.key").is_file() and (keys / "clients" / "client.key_secret").is_file()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ep = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    listener = subprocess.Popen([sys.executable, "-m", "stmocap", "listen", ep, "--keys", str(keys),
                                 "--topics", "pose,mesh,stats", "--record", str(tmp_path / "r.npz"),
                                 "--timeout", "60"], stderr=subprocess.PIPE, text=True)
    run = _run("run", "--source", str(media / "clip.avi"), "--profile", "replay", "--estimates",
               str(media / "estimates.npz"), "--endpoint", ep, "--keys", str(keys),
               "--wait-subscribers", "1", "--stride", "2", "--lookahead", "3", "--window", "8",
               "--filter", "one-euro")
    assert run.returncode == 0, run.stderr
    assert "done: 40 frames" in run.stderr
    err = listener.communicate(timeout=30)[1]
    assert "stream ended" in err, err
    rec = np.load(tmp_path / "r.npz")
    assert rec["seq"].tolist() == list(range(40))
    assert rec["rotmats"].shape == (40, 24, 3, 3) and rec["vertices"].shape == (40, 13718, 3)  # the free body
    assert rec["faces"].shape[1] == 3
    out = _run("bench", "--source", str(media / "clip.avi"), "--profile", "replay", "--estimates",
               str(media / "estimates.npz"), "--endpoint", ep, "--out", str(tmp_path / "b"),
               "--markdown", str(tmp_path / "b.md"))
    assert out.returncode == 0, out.stderr
    for name in ("graph.json", "graph.md", "graph.png"):
        assert (tmp_path / "b" / name).stat().st_size > 100
    assert "Graph overhead" in (tmp_path / "b.md").read_text()


def test_run_errors_are_one_line(tmp_path: Path) -> None:
    out = _run("run", "--source", str(tmp_path / "missing.mp4"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "source not found" in out.stderr
    out = _run("run", "--source", str(tmp_path), "--stride", "4", "--lookahead", "1")
    assert out.returncode == 2 and "stride 4 with lookahead 1" in out.stderr
