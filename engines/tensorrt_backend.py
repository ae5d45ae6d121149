"""TensorRT 10 and TensorRT-RTX runtimes behind the engine interface.

Both libraries share the runtime API used here: deserialize the engine, ``set_input_shape`` and
``set_tensor_address`` for every I/O tensor (torch CUDA tensors as buffers), then
``execute_async_v3`` on a CUDA stream. They differ in where they come from:

* ``tensorrt`` (TensorRT 10, datacentre and RTX GPUs): ``pip install 'stmocap[tensorrt]'``; the
  ``tensorrt-cu12`` wheels download their libraries from NVIDIA's own package index at install time.
* ``tensorrt-rtx`` (TensorRT for RTX, GeForce/RTX 20xx–50xx, compute capability 7.5/8.6/8.9/12.0 —
  not datacentre GPUs such as the H100): ``pip install 'stmocap[rtx]'``, real PyPI wheels; imports as
  ``tensorrt_rtx_bindings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from stmocap.engines.artifact import ArtifactMeta, read_sidecar, verify
from stmocap.engines.base import Engine, EngineError

from stmocap.optional import require

LIBRARIES = {
    "tensorrt": ("tensorrt", "tensorrt",
                 "tensorrt-cu12 installs from NVIDIA's package index; see README"),
    "tensorrt-rtx": ("tensorrt_rtx_bindings", "rtx",
                     "TensorRT-RTX wheels are on PyPI: tensorrt-rtx-cu12-bindings + -libs"),
}


def import_tensorrt(library: str) -> Any:
    """Import ``tensorrt`` or ``tensorrt_rtx_bindings`` or say which extra installs it and why."""
    module, extra, why = LIBRARIES[library]
    return require(module, extra, why)


def trt_dtype_to_torch(trt: Any, dtype: Any) -> torch.dtype:
    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
             trt.DataType.INT32: torch.int32, trt.DataType.INT8: torch.int8,
             trt.DataType.BOOL: torch.bool}
    if hasattr(trt.DataType, "INT64"):
        table[trt.DataType.INT64] = torch.int64
    return table[dtype]


class TensorRTEngine(Engine):
    """A serialized TensorRT (``library='tensorrt'``) or TensorRT-RTX engine file.

    Inputs may be numpy arrays or torch tensors (moved to the GPU); outputs are CUDA tensors.
    """

    backend: ClassVar[str] = "tensorrt"

    def __init__(self, path: Path, library: str = "tensorrt",
                 expect: Mapping[str, Any] | None = None, device: int = 0) -> None:
        path = Path(path)
        if not path.is_file():
            raise EngineError(f"engine file not found: {path} (build it with `stmocap export --to "
                              f"{library}`)")
        self.meta: ArtifactMeta = read_sidecar(path)
        if self.meta.kind != library:
            raise EngineError(f"{path.name} is a {self.meta.kind} artifact, not {library}")
        verify(path, self.meta, expect)
        super().__init__(list(self.meta.inputs), list(self.meta.outputs))
        self.backend = library  # type: ignore[misc]
        trt = import_tensorrt(library)
        if not torch.cuda.is_available():
            raise EngineError(f"{library} engines run on an NVIDIA GPU with CUDA; torch sees none "
                              "here (use --engine onnxruntime or torch on this machine)")
        self._trt = trt
        self.device = torch.device("cuda", device)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise EngineError(f"{library} could not load {path.name}: it was built for another GPU "
                              "or library version; delete it and rebuild (`stmocap export`)")
        self._context = self._engine.create_execution_context()
        self._stream = torch.cuda.Stream(device=self.device)

    def _run(self, feed: Mapping[str, np.ndarray | torch.Tensor], sizes: dict[str, int]
             ) -> dict[str, torch.Tensor]:
        ctx = self._context
        keep = []
        with torch.cuda.stream(self._stream):
            for spec in self.inputs:
                x = feed[spec.name]
                t = (torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x)
                t = t.to(self.device, non_blocking=True).contiguous()
                keep.append(t)
                ctx.set_input_shape(spec.name, tuple(t.shape))
                ctx.set_tensor_address(spec.name, t.data_ptr())
            outputs = {}
            for spec in self.outputs:
                shape = tuple(ctx.get_tensor_shape(spec.name))
                dtype = trt_dtype_to_torch(self._trt, self._engine.get_tensor_dtype(spec.name))
                out = torch.empty(shape, dtype=dtype, device=self.device)
                ctx.set_tensor_address(spec.name, out.data_ptr())
                outputs[spec.name] = out
            if not ctx.execute_async_v3(self._stream.cuda_stream):
                raise EngineError(f"{self.backend} execution failed (see the log above)")
        self._stream.synchronize()
        return {s.name: outputs[s.name].to(s.torch_dtype) for s in self.outputs}

    def close(self) -> None:
        self._context = None
        self._engine = None
        super().close()
