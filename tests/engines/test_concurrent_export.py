"""Two processes that open the same not-yet-exported model at once (engines/factory.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

OPEN = """
from stmocap.engines.factory import open_model_engine
engine = open_model_engine("temporal", "tiny", backend="onnxruntime")
print(engine.model.name, flush=True)
engine.close()
"""


def test_two_processes_exporting_at_once_both_get_the_same_valid_file(tmp_path: Path) -> None:
    env = {**os.environ, "STMOCAP_CACHE": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", OPEN], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "temporal"
    folder = tmp_path / "cache" / "onnx"
    models = sorted(folder.glob("temporal-*.onnx"))
    assert len(models) == 1  # one export, not three interleaved ones
    record = json.loads(Path(str(models[0]) + ".meta.json").read_text())
    from stmocap.engines.artifact import sha256_file

    assert record["file_sha256"] == sha256_file(models[0])
    assert not list(folder.glob("*.partial")) and not list(folder.glob(".*.partial"))
