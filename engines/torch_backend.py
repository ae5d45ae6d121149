"""PyTorch backend: an ``nn.Module`` behind the engine interface (CPU or CUDA, fp16, CUDA graphs)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from stmocap.engines.base import Engine, EngineError, TensorSpec
from torch import nn


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x


class TorchEngine(Engine):
    """Run ``module(*inputs)`` (positional, in input-spec order) → outputs in output-spec order.

    Args:
        module: returns a tensor or a tuple of tensors, one per output spec.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        fp16: run the module in half precision (inputs are cast; outputs cast back to the specs).
        cuda_graphs: capture one CUDA graph per input-shape signature and replay it (CUDA only).
    """

    backend = "torch"

    def __init__(self, module: nn.Module, inputs: list[TensorSpec], outputs: list[TensorSpec],
                 device: str = "cpu", fp16: bool = False, cuda_graphs: bool = False) -> None:
        super().__init__(inputs, outputs)
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise EngineError("torch engine asked for CUDA, but torch sees no CUDA GPU "
                              "(install a CUDA build of torch; see README)")
        if cuda_graphs and self.device.type != "cuda":
            raise EngineError("CUDA graphs need device='cuda'")
        self.fp16 = fp16
        self.cuda_graphs = cuda_graphs
        self.module = module.eval().to(self.device)
        if fp16:
            self.module = self.module.half()
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], tuple]] = {}

    def _prepare(self, feed: Mapping[str, np.ndarray | torch.Tensor]) -> list[torch.Tensor]:
        xs = []
        for spec in self.inputs:
            x = _as_tensor(feed[spec.name]).to(self.device, non_blocking=True)
            if self.fp16 and x.is_floating_point():
                x = x.half()
            xs.append(x)
        return xs

    def _forward(self, xs: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        out = self.module(*xs)
        return out if isinstance(out, tuple) else (out,)

    def _run_graph(self, xs: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        key = tuple((tuple(x.shape), x.dtype) for x in xs)
        if key not in self._graphs:
            static_in = [x.clone() for x in xs]
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream), torch.inference_mode():
                for _ in range(3):  # warm up kernels/allocator outside the graph
                    self._forward(static_in)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.inference_mode():
                static_out = self._forward(static_in)
            self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = self._graphs[key]
        for dst, src in zip(static_in, xs, strict=True):
            dst.copy_(src)
        graph.replay()
        return tuple(o.clone() for o in static_out)

    def _run(self, feed: Mapping[str, np.ndarray | torch.Tensor], sizes: dict[str, int]
             ) -> dict[str, torch.Tensor]:
        xs = self._prepare(feed)
        if self.cuda_graphs:
            outs = self._run_graph(xs)
        else:
            with torch.inference_mode():
                outs = self._forward(xs)
        if len(outs) != len(self.outputs):
            raise EngineError(f"module returned {len(outs)} outputs, specs name {len(self.outputs)}")
        return {s.name: o.to(s.torch_dtype) for s, o in zip(self.outputs, outs, strict=True)}

    def close(self) -> None:
        self._graphs.clear()
        super().close()
