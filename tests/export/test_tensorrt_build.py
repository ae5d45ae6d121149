"""Engine building: TensorRT-RTX parses and builds every exported model without a GPU; caching."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from stmocap.engines.artifact import read_sidecar
from stmocap.engines.base import EngineError
from stmocap.export.catalog import CATALOG
from stmocap.export.tensorrt_build import BuildOptions, build_engine, cache_key, list_engines

from stmocap.optional import MissingDependencyError

needs_rtx = pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx_bindings") is None,
                               reason="tensorrt-rtx not installed: pip install 'stmocap[rtx]'")


@needs_rtx
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_rtx_builds_every_model(exported, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, onnx_path = exported[name]
    engine = build_engine(onnx_path, BuildOptions(library="tensorrt-rtx", cache_dir=tmp_path),
                          progress=False)
    assert engine.stat().st_size > 1000
    meta = read_sidecar(engine)
    onnx_meta = read_sidecar(onnx_path)
    assert meta.kind == "tensorrt-rtx" and meta.model == name
    assert meta.onnx_sha256 == onnx_meta.file_sha256
    assert meta.build_key.startswith(engine.name.split(".")[-2])
    assert "tensorrt_rtx_bindings" in meta.versions


@needs_rtx
def test_cache_reuses_and_rebuilds_on_key_change(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, onnx_path = exported["body"]
    opts = BuildOptions(library="tensorrt-rtx", cache_dir=tmp_path)
    first = build_engine(onnx_path, opts, progress=False)
    stamp = first.stat().st_mtime_ns
    again = build_engine(onnx_path, opts, progress=False)
    assert again == first and again.stat().st_mtime_ns == stamp
    other = build_engine(onnx_path, replace(opts, max_batch=8), progress=False)
    assert other != first
    assert [p for p, _ in list_engines(tmp_path)] == sorted([first, other])
    # A damaged cached engine is detected and rebuilt.
    with open(first, "ab") as fh:
        fh.write(b"junk")
    rebuilt = build_engine(onnx_path, opts, progress=False)
    assert rebuilt == first and read_sidecar(first).file_sha256


def test_cache_key_covers_every_input() -> None:
    base = BuildOptions()
    k = cache_key("abc", base, "10.1", "RTX 4090", "8.9")
    assert len({k,
                cache_key("abd", base, "10.1", "RTX 4090", "8.9"),
                cache_key("abc", replace(base, precision="fp16"), "10.1", "RTX 4090", "8.9"),
                cache_key("abc", replace(base, max_batch=32), "10.1", "RTX 4090", "8.9"),
                cache_key("abc", base, "10.2", "RTX 4090", "8.9"),
                cache_key("abc", base, "10.1", "RTX 3090", "8.6")}) == 6


@needs_rtx
def test_rtx_needs_matching_precision(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, onnx_path = exported["body"]
    with pytest.raises(EngineError, match="strongly typed"):
        build_engine(onnx_path, BuildOptions(library="tensorrt-rtx", precision="fp16",
                                             cache_dir=tmp_path), progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_tensorrt_without_gpu_or_library_is_explained(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, onnx_path = exported["body"]
    with pytest.raises((EngineError, MissingDependencyError), match=r"GPU|stmocap\[tensorrt\]"):
        build_engine(onnx_path, BuildOptions(library="tensorrt", cache_dir=tmp_path), progress=False)


def test_profile_validation() -> None:
    with pytest.raises(ValueError, match="min_batch"):
        BuildOptions(min_batch=4, opt_batch=2)
