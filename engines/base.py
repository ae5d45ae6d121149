"""The ``Engine`` interface shared by every backend.

An engine has named, typed inputs and outputs (:class:`TensorSpec`); it is called with a mapping
``name → array`` (numpy or torch) and returns ``name → torch.Tensor``. Dimensions named by a string
(``"batch"``) are dynamic; integers are fixed. Engines are context managers; ``close()`` frees
what the backend holds (sessions, CUDA buffers, streams).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

Dim = int | str

_DTYPES = {
    "float32": (np.float32, torch.float32),
    "float16": (np.float16, torch.float16),
    "int64": (np.int64, torch.int64),
    "int32": (np.int32, torch.int32),
    "uint8": (np.uint8, torch.uint8),
    "bool": (np.bool_, torch.bool),
}


class EngineError(RuntimeError):
    """An engine cannot be built, loaded or called; the message is one line for the user."""


@dataclass(frozen=True)
class TensorSpec:
    """Name, dtype (``float32``, ``float16``, ``int64`` …) and shape (``str`` = dynamic dim)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ValueError(f"unsupported dtype {self.dtype!r}; use one of {sorted(_DTYPES)}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype][1]

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(_DTYPES[self.dtype][0])

    def concrete(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """Shape with dynamic dims replaced by ``sizes[name]``."""
        return tuple(sizes[d] if isinstance(d, str) else d for d in self.shape)

    def check(self, value: np.ndarray | torch.Tensor, sizes: dict[str, int]) -> None:
        """Raise :class:`EngineError` unless ``value`` matches; binds dynamic dims into ``sizes``."""
        dtype = str(value.dtype).replace("torch.", "")
        if dtype != self.dtype:
            raise EngineError(f"input '{self.name}' must be {self.dtype}, got {dtype}")
        shape = tuple(value.shape)
        if len(shape) != len(self.shape):
            raise EngineError(f"input '{self.name}' must have shape {self.shape}, got {shape}")
        for want, got in zip(self.shape, shape, strict=True):
            if isinstance(want, str):
                if sizes.setdefault(want, got) != got:
                    raise EngineError(f"input '{self.name}': dimension '{want}' is {got} here but "
                                      f"{sizes[want]} in another input")
            elif want != got:
                raise EngineError(f"input '{self.name}' must have shape {self.shape}, got {shape}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TensorSpec:
        return cls(d["name"], d["dtype"], tuple(d["shape"]))


class Engine(ABC):
    """Run a model: ``engine({name: array}) -> {name: torch.Tensor}``."""

    backend: ClassVar[str]

    def __init__(self, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.model: Any = None  # the catalogue model (BuiltModel) when opened by engines.factory
        self._closed = False

    def check_feed(self, feed: Mapping[str, Any]) -> dict[str, int]:
        """Validate names, dtypes and shapes of ``feed``; return the dynamic dim sizes."""
        names = [s.name for s in self.inputs]
        missing = [n for n in names if n not in feed]
        extra = [n for n in feed if n not in names]
        if missing or extra:
            raise EngineError(f"{self.backend} engine takes inputs {names}; missing {missing}, "
                              f"unexpected {extra}")
        sizes: dict[str, int] = {}
        for spec in self.inputs:
            spec.check(feed[spec.name], sizes)
        return sizes

    def __call__(self, feed: Mapping[str, np.ndarray | torch.Tensor]) -> dict[str, torch.Tensor]:
        if self._closed:
            raise EngineError(f"{self.backend} engine is closed")
        sizes = self.check_feed(feed)
        return self._run(feed, sizes)

    @abstractmethod
    def _run(self, feed: Mapping[str, np.ndarray | torch.Tensor], sizes: dict[str, int]
             ) -> dict[str, torch.Tensor]:
        """Backend-specific execution of a validated feed."""

    def example_feed(self, sizes: Mapping[str, int] | None = None, seed: int = 0
                     ) -> dict[str, torch.Tensor]:
        """Random inputs matching the specs (dynamic dims default to 1)."""
        dims = {d: 1 for s in self.inputs for d in s.shape if isinstance(d, str)}
        dims.update(sizes or {})
        g = torch.Generator().manual_seed(seed)
        return {s.name: torch.randn(s.concrete(dims), generator=g).to(s.torch_dtype)
                for s in self.inputs}

    def warmup(self, calls: int = 2, sizes: Mapping[str, int] | None = None) -> None:
        """Run a few calls on random inputs so lazy initialisation happens before timing."""
        feed = self.example_feed(sizes)
        for _ in range(calls):
            self(feed)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
