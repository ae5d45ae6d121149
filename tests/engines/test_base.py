"""The Engine interface: spec checks, feed validation, lifecycle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stmocap.engines.base import EngineError, TensorSpec
from stmocap.engines.torch_backend import TorchEngine
from torch import nn


class _Double(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * 2, (x.sum(-1) + y)


def _engine() -> TorchEngine:
    return TorchEngine(
        _Double(),
        [TensorSpec("x", "float32", ("batch", 4)), TensorSpec("y", "float32", ("batch",))],
        [TensorSpec("x2", "float32", ("batch", 4)), TensorSpec("s", "float32", ("batch",))],
    )


def test_numpy_and_torch_feeds_give_torch_outputs() -> None:
    with _engine() as eng:
        x = np.arange(8, dtype=np.float32).reshape(2, 4)
        out = eng({"x": x, "y": np.ones(2, dtype=np.float32)})
        assert set(out) == {"x2", "s"}
        assert isinstance(out["x2"], torch.Tensor)
        np.testing.assert_array_equal(out["x2"].numpy(), x * 2)
        np.testing.assert_array_equal(out["s"].numpy(), x.sum(-1) + 1)
        out = eng({"x": torch.from_numpy(x), "y": torch.zeros(2)})
        assert out["s"].tolist() == [6.0, 22.0]


@pytest.mark.parametrize(
    ("feed", "match"),
    [
        ({"x": np.zeros((2, 4), np.float32)}, r"missing \['y'\]"),
        ({"x": np.zeros((2, 4), np.float32), "y": np.zeros(2, np.float32), "z": 1}, "unexpected"),
        ({"x": np.zeros((2, 4), np.float64), "y": np.zeros(2, np.float32)}, "must be float32"),
        ({"x": np.zeros((2, 5), np.float32), "y": np.zeros(2, np.float32)}, "must have shape"),
        ({"x": np.zeros((2, 4), np.float32), "y": np.zeros(3, np.float32)}, "dimension 'batch'"),
    ],
)
def test_bad_feeds_are_named(feed: dict, match: str) -> None:
    with _engine() as eng, pytest.raises(EngineError, match=match):
        eng(feed)


def test_closed_engine_refuses() -> None:
    eng = _engine()
    eng.close()
    with pytest.raises(EngineError, match="closed"):
        eng(eng.example_feed())


def test_example_feed_and_warmup() -> None:
    with _engine() as eng:
        feed = eng.example_feed({"batch": 3})
        assert feed["x"].shape == (3, 4) and feed["y"].shape == (3,)
        eng.warmup(calls=1)


def test_spec_json_round_trip_and_dtype_check() -> None:
    spec = TensorSpec("a", "float16", ("batch", 16, 3))
    assert TensorSpec.from_json(spec.to_json()) == spec
    assert spec.concrete({"batch": 5}) == (5, 16, 3)
    with pytest.raises(ValueError, match="unsupported dtype"):
        TensorSpec("a", "float8", (1,))


def test_cuda_request_without_gpu_is_explained() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(EngineError, match="no CUDA GPU"):
        TorchEngine(_Double(), [], [], device="cuda")
