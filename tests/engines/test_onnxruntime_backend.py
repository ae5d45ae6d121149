"""ONNX Runtime engine on real exported models: results, metadata checks, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from stmocap.engines.artifact import ArtifactMismatchError, sidecar_path
from stmocap.engines.base import EngineError
from stmocap.engines.onnxruntime_backend import OnnxRuntimeEngine
from stmocap.engines.torch_backend import TorchEngine


def test_runs_like_torch(exported) -> None:  # type: ignore[no-untyped-def]
    built, path = exported["temporal"]
    with OnnxRuntimeEngine(path) as ort_eng:
        ref = TorchEngine(built.module, list(built.inputs), list(built.outputs))
        feed = ort_eng.example_feed({"batch": 2}, seed=3)
        got, want = ort_eng(feed), ref(feed)
        assert [s.name for s in ort_eng.outputs] == ["pose_6d_out", "betas", "cam_out", "weights"]
        for name in want:
            torch.testing.assert_close(got[name], want[name], atol=1e-5, rtol=1e-4)
        # Idle worker threads sleep instead of spinning (they would take CPU from other stages).
        opts = ort_eng.session.get_session_options()
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with OnnxRuntimeEngine(path, spin=True) as spinning:
        opts = spinning.session.get_session_options()
        with pytest.raises(Exception, match="allow_spinning"):  # not set: ORT's default (spin)
            opts.get_session_config_entry("session.intra_op.allow_spinning")


def test_expectations_are_enforced(exported) -> None:  # type: ignore[no-untyped-def]
    _, path = exported["temporal"]
    OnnxRuntimeEngine(path, expect={"model": "temporal", "window": 16, "precision": "fp32"}).close()
    with pytest.raises(ArtifactMismatchError, match=r"window=16 but this run needs 8"):
        OnnxRuntimeEngine(path, expect={"window": 8})
    with pytest.raises(ArtifactMismatchError, match="precision='fp32' but this run needs 'fp16'"):
        OnnxRuntimeEngine(path, expect={"precision": "fp16"})


def test_changed_file_is_refused(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, path = exported["body"]
    copy = tmp_path / "body.onnx"
    shutil.copy(path, copy)
    shutil.copy(sidecar_path(path), sidecar_path(copy))
    with open(copy, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactMismatchError, match="file changed after export"):
        OnnxRuntimeEngine(copy)


def test_missing_or_broken_sidecar(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, path = exported["body"]
    copy = tmp_path / "body.onnx"
    shutil.copy(path, copy)
    with pytest.raises(ArtifactMismatchError, match=r"has no body\.onnx\.meta\.json"):
        OnnxRuntimeEngine(copy)
    sidecar_path(copy).write_text("{not json")
    with pytest.raises(ArtifactMismatchError, match="not valid artifact metadata"):
        OnnxRuntimeEngine(copy)
    record = json.loads(sidecar_path(path).read_text())
    record["format_version"] = 99
    sidecar_path(copy).write_text(json.dumps(record))
    with pytest.raises(ArtifactMismatchError, match="format 99"):
        OnnxRuntimeEngine(copy)


def test_missing_file_and_unavailable_provider(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError, match="ONNX file not found"):
        OnnxRuntimeEngine(tmp_path / "nothing.onnx")
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA provider present")
    with pytest.raises(EngineError, match="CUDAExecutionProvider is not available"):
        OnnxRuntimeEngine(exported["body"][1], provider="cuda")
