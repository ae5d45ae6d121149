"""ONNX Runtime backend: CPU, CUDA or TensorRT execution providers; I/O binding for CUDA tensors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from stmocap.engines.artifact import ArtifactMeta, read_sidecar, verify
from stmocap.engines.base import Engine, EngineError

from stmocap.optional import require

Provider = Literal["cpu", "cuda", "tensorrt"]

_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def import_onnxruntime() -> Any:
    return require("onnxruntime", "onnx",
                   "or stmocap[gpu] for onnxruntime-gpu; never install both in one environment")


class OnnxRuntimeEngine(Engine):
    """An ONNX file run by ONNX Runtime.

    Args:
        path: the ``.onnx`` file (its ``.meta.json`` sidecar gives the specs and is verified).
        provider: ``cpu``, ``cuda`` or ``tensorrt`` (falls back down that list as ORT does).
        expect: metadata the caller requires (see :func:`~stmocap.engines.artifact.verify`).
        threads: intra-op threads for the CPU provider (0 = ORT's default).
        spin: let idle ORT worker threads busy-wait for the next call (ORT's default). Off here:
            in the graph ORT shares the cores with torch and other stage processes, and spinning
            threads take CPU from them (measured in docs/benchmarks.md, lite section).
    """

    backend = "onnxruntime"

    def __init__(self, path: Path, provider: Provider = "cpu",
                 expect: Mapping[str, Any] | None = None, threads: int = 0, spin: bool = False) -> None:
        path = Path(path)
        if not path.is_file():
            raise EngineError(f"ONNX file not found: {path} (create it with `stmocap export`)")
        self.meta: ArtifactMeta = read_sidecar(path)
        verify(path, self.meta, expect)
        super().__init__(list(self.meta.inputs), list(self.meta.outputs))
        ort = import_onnxruntime()
        wanted = _PROVIDERS[provider]
        available = ort.get_available_providers()
        if wanted[0] not in available:
            raise EngineError(f"ONNX Runtime provider {wanted[0]} is not available here "
                              f"(have {available}); install stmocap[gpu] for CUDA/TensorRT")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.provider = provider
        self.session = ort.InferenceSession(str(path), options,
                                            providers=[p for p in wanted if p in available])
        self._ort = ort

    def _run(self, feed: Mapping[str, np.ndarray | torch.Tensor], sizes: dict[str, int]
             ) -> dict[str, torch.Tensor]:
        if self.provider != "cpu" and any(isinstance(v, torch.Tensor) and v.is_cuda
                                          for v in feed.values()):
            return self._run_bound(feed, sizes)
        arrays = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
                  for k, v in feed.items()}
        outs = self.session.run([s.name for s in self.outputs], arrays)
        return {s.name: torch.from_numpy(o) for s, o in zip(self.outputs, outs, strict=True)}

    def _run_bound(self, feed: Mapping[str, np.ndarray | torch.Tensor], sizes: dict[str, int]
                   ) -> dict[str, torch.Tensor]:
        """CUDA tensors in, CUDA tensors out, without host copies (I/O binding).

        Output shapes follow from the output specs' named dims, so outputs are preallocated torch
        tensors that ORT writes into.
        """
        binding = self.session.io_binding()
        inputs = []
        for spec in self.inputs:
            x = feed[spec.name]
            t = (torch.from_numpy(x) if isinstance(x, np.ndarray) else x).cuda().contiguous()
            inputs.append(t)  # keep alive until the run ends
            binding.bind_input(spec.name, "cuda", t.device.index or 0, spec.numpy_dtype,
                               list(t.shape), t.data_ptr())
        outputs = {}
        for spec in self.outputs:
            out = torch.empty(spec.concrete(sizes), dtype=spec.torch_dtype, device=inputs[0].device)
            outputs[spec.name] = out
            binding.bind_output(spec.name, "cuda", out.device.index or 0, spec.numpy_dtype,
                                list(out.shape), out.data_ptr())
        self.session.run_with_iobinding(binding)
        return outputs

    def close(self) -> None:
        self.session = None
        super().close()
