"""Backend registry: by name, by sidecar kind, by suffix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from stmocap.engines.base import EngineError
from stmocap.engines.onnxruntime_backend import OnnxRuntimeEngine
from stmocap.engines.registry import BACKEND_NAMES, backend_for, load_engine


def test_names() -> None:
    assert set(BACKEND_NAMES) == {"torch", "onnxruntime", "tensorrt", "tensorrt-rtx"}


def test_backend_from_sidecar_and_suffix(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, path = exported["body"]
    assert backend_for(path) == "onnxruntime"
    assert backend_for(tmp_path / "x.engine") == "tensorrt"
    assert backend_for(tmp_path / "x.plan") == "tensorrt"
    with pytest.raises(EngineError, match="cannot tell the backend"):
        backend_for(tmp_path / "x.bin")


def test_load_engine(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, path = exported["body"]
    with load_engine(path) as eng:
        assert isinstance(eng, OnnxRuntimeEngine)
        out = eng(eng.example_feed({"batch": 2}))
        assert out["vertices"].shape == (2, 13718, 3)  # the free body
    with pytest.raises(EngineError, match="unknown engine backend"):
        load_engine(path, backend="nope")
    renamed = tmp_path / "model.bin"
    shutil.copy(path, renamed)
    with pytest.raises(EngineError):
        load_engine(renamed)
