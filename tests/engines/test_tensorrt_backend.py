"""TensorRT / TensorRT-RTX runtime: missing-library and no-GPU errors here, real runs on GPUs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from stmocap.engines.base import EngineError
from stmocap.engines.tensorrt_backend import TensorRTEngine, import_tensorrt
from stmocap.engines.torch_backend import TorchEngine

from stmocap.optional import MissingDependencyError

HAS_RTX = importlib.util.find_spec("tensorrt_rtx_bindings") is not None


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT installed")
def test_missing_tensorrt_names_the_extra_and_why() -> None:
    with pytest.raises(MissingDependencyError) as info:
        import_tensorrt("tensorrt")
    msg = str(info.value)
    assert "pip install 'stmocap[tensorrt]'" in msg and "NVIDIA's package index" in msg


@pytest.fixture(scope="module")
def rtx_engine(exported, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    if not HAS_RTX:
        pytest.skip("tensorrt-rtx not installed: pip install 'stmocap[rtx]'")
    from stmocap.export.tensorrt_build import BuildOptions, build_engine

    cache = tmp_path_factory.mktemp("engines")
    return build_engine(exported["body"][1], BuildOptions(library="tensorrt-rtx", cache_dir=cache),
                        progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_rtx_engine_without_gpu_is_explained(rtx_engine: Path) -> None:
    with pytest.raises(EngineError, match="run on an NVIDIA GPU with CUDA"):
        TensorRTEngine(rtx_engine, library="tensorrt-rtx")


def test_engine_kind_must_match_library(rtx_engine: Path) -> None:
    with pytest.raises(EngineError, match="is a tensorrt-rtx artifact, not tensorrt"):
        TensorRTEngine(rtx_engine, library="tensorrt")


def test_missing_engine_file(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="engine file not found"):
        TensorRTEngine(tmp_path / "x.engine")


@pytest.mark.gpu
def test_rtx_engine_matches_torch_on_gpu(rtx_engine: Path, exported) -> None:  # type: ignore[no-untyped-def]
    major, _ = torch.cuda.get_device_capability(0)
    if major == 9:
        pytest.skip("TensorRT-RTX does not run on compute capability 9.x (H100/H200)")
    built, _ = exported["body"]
    with TensorRTEngine(rtx_engine, library="tensorrt-rtx") as eng:
        ref = TorchEngine(built.module, list(built.inputs), list(built.outputs))
        feed = eng.example_feed({"batch": 3})
        got, want = eng(feed), ref(feed)
        for name in want:
            torch.testing.assert_close(got[name].cpu(), want[name], atol=1e-3, rtol=1e-3)
