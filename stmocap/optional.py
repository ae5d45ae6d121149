"""Lazy imports of optional heavy dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message says which extra provides it."""


def require(module: str, extra: str, why: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install stmocap[extra]``.

    Args:
        module: dotted module name, e.g. ``"onnxruntime"``.
        extra: the pip extra of stmocap that installs it, e.g. ``"onnx"``.
        why: optional sentence appended to the message (e.g. where the wheel comes from).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        msg = f"{module} is not installed: pip install 'stmocap[{extra}]'"
        if why:
            msg += f" ({why})"
        raise MissingDependencyError(msg) from exc
