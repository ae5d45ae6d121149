"""Torch engine: CPU path here; fp16 and CUDA graphs on a GPU."""

from __future__ import annotations

import pytest
import torch
from stmocap.engines.base import EngineError
from stmocap.engines.torch_backend import TorchEngine
from stmocap.export.catalog import build_model


def _engine(**kw) -> TorchEngine:  # type: ignore[no-untyped-def]
    built = build_model("temporal", "tiny")
    return TorchEngine(built.module, list(built.inputs), list(built.outputs), **kw)


def test_cpu_outputs_follow_specs() -> None:
    with _engine() as eng:
        out = eng(eng.example_feed({"batch": 2}))
        assert [tuple(out[s.name].shape) for s in eng.outputs] == [
            (2, 16, 24, 6), (2, 16, 10), (2, 16, 3), (2, 16, 16)]
        assert all(v.dtype == torch.float32 for v in out.values())


def test_cuda_graphs_need_cuda() -> None:
    with pytest.raises(EngineError, match="CUDA"):
        _engine(device="cpu", cuda_graphs=True)


@pytest.mark.gpu
def test_fp16_and_cuda_graphs_match_cpu() -> None:
    cpu = _engine()
    feed = cpu.example_feed({"batch": 3})
    want = cpu(feed)
    for kw, tol in (({}, 1e-4), ({"fp16": True}, 2e-2), ({"cuda_graphs": True}, 1e-4)):
        eng = _engine(device="cuda", **kw)
        for _ in range(2):  # the second call replays the captured graph
            got = eng(feed)
        for name in want:
            torch.testing.assert_close(got[name].float().cpu(), want[name], atol=tol, rtol=tol)
