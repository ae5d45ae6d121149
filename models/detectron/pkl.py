"""detectron2 model-zoo ``.pkl`` checkpoints: read safely, write the same layout.

Layout: a pickle of ``{"model": {name: numpy.ndarray}, "__author__": str,
"matching_heuristics": bool}`` (some older files hold only the name → array dict). Reading uses a
restricted unpickler that resolves nothing but numpy's array/dtype/scalar reconstructors and
``collections.OrderedDict``: a file that asks for any other global is refused, never executed.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
}


class PklError(ValueError):
    """The file is not a readable detectron2 checkpoint (one line, naming the file)."""


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


@dataclass(frozen=True)
class D2Checkpoint:
    """model: parameter name → array; author: the file's ``__author__`` (or None)."""

    model: dict[str, np.ndarray]
    author: str | None
    matching_heuristics: bool


def read_pkl(path: str | Path) -> D2Checkpoint:
    """Read a model-zoo style ``.pkl``; raises :class:`PklError` naming ``path`` on any problem."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = _SafeUnpickler(f, encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as e:
        raise PklError(f"{path}: not a readable detectron2 checkpoint ({e})") from None
    if not isinstance(data, dict):
        raise PklError(f"{path}: expected a dict at the top level, got {type(data).__name__}")
    model = data.get("model", data)
    if not isinstance(model, dict):
        raise PklError(f"{path}: 'model' is a {type(model).__name__}, not a dict of arrays")
    bad = [k for k, v in model.items() if not isinstance(k, str) or not isinstance(v, np.ndarray)]
    if bad:
        raise PklError(f"{path}: {len(bad)} entries are not name → numpy array, e.g. {bad[0]!r}")
    author = data.get("__author__") if "model" in data else None
    return D2Checkpoint(dict(model), author if isinstance(author, str) else None,
                        bool(data.get("matching_heuristics", False)) if "model" in data else False)


def write_pkl(path: str | Path, model: dict[str, np.ndarray], author: str = "stmocap",
              matching_heuristics: bool = False) -> None:
    """Write ``model`` (name → array) in the model-zoo layout."""
    payload = {"model": {k: np.ascontiguousarray(v) for k, v in model.items()}, "__author__": author,
               "matching_heuristics": matching_heuristics}
    with Path(path).open("wb") as f:
        pickle.dump(payload, f, protocol=4)
