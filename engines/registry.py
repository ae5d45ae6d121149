"""Pick an engine backend by name or by artifact file suffix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stmocap.engines.artifact import read_sidecar
from stmocap.engines.base import Engine, EngineError


def _onnxruntime(path: Path, **kw: Any) -> Engine:
    from stmocap.engines.onnxruntime_backend import OnnxRuntimeEngine

    return OnnxRuntimeEngine(path, **kw)


def _tensorrt(path: Path, **kw: Any) -> Engine:
    from stmocap.engines.tensorrt_backend import TensorRTEngine

    return TensorRTEngine(path, library="tensorrt", **kw)


def _tensorrt_rtx(path: Path, **kw: Any) -> Engine:
    from stmocap.engines.tensorrt_backend import TensorRTEngine

    return TensorRTEngine(path, library="tensorrt-rtx", **kw)


# Backends that run a file. The torch backend runs a module, not a file: see TorchEngine.
FILE_BACKENDS: dict[str, Callable[..., Engine]] = {
    "onnxruntime": _onnxruntime,
    "tensorrt": _tensorrt,
    "tensorrt-rtx": _tensorrt_rtx,
}
BACKEND_NAMES = ("torch", *FILE_BACKENDS)
SUFFIXES = {".onnx": "onnxruntime", ".engine": "tensorrt", ".plan": "tensorrt"}


def backend_for(path: Path) -> str:
    """Backend name for an artifact: by its sidecar's ``kind`` if present, else by suffix."""
    path = Path(path)
    try:
        kind = read_sidecar(path).kind
        return "onnxruntime" if kind == "onnx" else kind
    except EngineError:
        pass
    if path.suffix not in SUFFIXES:
        raise EngineError(f"cannot tell the backend of {path.name}: use a suffix from "
                          f"{sorted(SUFFIXES)} or name --engine")
    return SUFFIXES[path.suffix]


def load_engine(path: Path, backend: str | None = None, expect: Mapping[str, Any] | None = None,
                **options: Any) -> Engine:
    """Open an artifact with ``backend`` (default: from its metadata or suffix)."""
    name = backend or backend_for(path)
    if name not in FILE_BACKENDS:
        raise EngineError(f"unknown engine backend {name!r}; choose from {sorted(FILE_BACKENDS)}")
    return FILE_BACKENDS[name](Path(path), expect=expect, **options)
