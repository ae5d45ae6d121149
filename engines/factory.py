"""Open any catalogue model on any backend: the one way the graph and the benchmarks get engines.

``torch`` wraps the module directly; ``onnxruntime`` exports (once, cached by the weights' hash
and the model's specs, :func:`artifact_key`) and loads the ONNX file; ``tensorrt`` /
``tensorrt-rtx`` additionally build (or reuse) an engine.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from stmocap.engines.base import Engine, EngineError

if TYPE_CHECKING:
    from stmocap.export.catalog import BuiltModel


def artifact_dir() -> Path:
    """``$STMOCAP_CACHE/onnx`` or ``~/.cache/stmocap/onnx``: ONNX files made on demand."""
    from stmocap.cache import cache_root

    return cache_root() / "onnx"


def artifact_key(built: BuiltModel) -> str:
    """16 hex digits naming a cached export: the weights' hash with the model's config and its
    input and output specs, so a changed graph (say, an output dropped) is exported anew instead
    of reusing a stale file made from the same weights."""
    spec = [built.source_sha256, built.config, [(t.name, list(t.shape)) for t in built.inputs],
            [(t.name, list(t.shape)) for t in built.outputs]]
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def open_model_engine(name: str, preset: str | None = None, checkpoint: Path | None = None,
                      backend: str = "torch", device: str = "cpu", precision: str = "fp32",
                      cuda_graphs: bool = False, max_batch: int = 16,
                      cache: Path | None = None) -> Engine:
    """Build catalogue model ``name`` and open it on ``backend`` (see module docstring; ``auto``:
    ONNX Runtime when installed, else PyTorch)."""
    from stmocap.export.catalog import build_model

    if backend == "auto":  # ONNX Runtime where installed (faster on CPU), else PyTorch
        import importlib.util

        backend = "onnxruntime" if importlib.util.find_spec("onnxruntime") else "torch"
    built = build_model(name, preset, checkpoint)
    engine = _open(built, backend, device, precision, cuda_graphs, max_batch, cache)
    engine.model = built
    return engine


def _open(built, backend: str, device: str, precision: str, cuda_graphs: bool,  # type: ignore[no-untyped-def]
          max_batch: int, cache: Path | None) -> Engine:
    from stmocap.engines.torch_backend import TorchEngine

    if backend == "torch":
        return TorchEngine(built.module, list(built.inputs), list(built.outputs), device=device,
                           fp16=precision == "fp16", cuda_graphs=cuda_graphs)
    if backend not in ("onnxruntime", "tensorrt", "tensorrt-rtx"):
        raise EngineError(f"unknown engine backend {backend!r}; choose torch, onnxruntime, "
                          "tensorrt or tensorrt-rtx")
    from stmocap.engines.artifact import read_sidecar
    from stmocap.export.onnx_export import OnnxOptions, export_onnx

    from stmocap.cache import building

    folder = cache or artifact_dir()
    onnx_path = folder / f"{built.name}-{built.preset}-{artifact_key(built)}.{precision}.onnx"
    with building(onnx_path):  # another process exporting the same file: wait for it
        try:
            read_sidecar(onnx_path)
        except EngineError:
            export_onnx(built, onnx_path, OnnxOptions(precision=precision))  # type: ignore[arg-type]
    expect = {"model": built.name, "window": built.window, "precision": precision,
              "source_sha256": built.source_sha256}
    if backend == "onnxruntime":
        from stmocap.engines.onnxruntime_backend import OnnxRuntimeEngine

        return OnnxRuntimeEngine(onnx_path, provider="cuda" if device.startswith("cuda") else "cpu",
                                 expect=expect)
    from stmocap.engines.tensorrt_backend import TensorRTEngine
    from stmocap.export.tensorrt_build import BuildOptions, build_engine

    engine_path = build_engine(onnx_path, BuildOptions(library=backend, precision=precision,  # type: ignore[arg-type]
                                                       max_batch=max_batch,
                                                       opt_batch=min(4, max_batch)))
    return TensorRTEngine(engine_path, library=backend, expect=expect)
