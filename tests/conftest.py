"""Shared pytest configuration: deterministic torch, hypothesis profile for CI."""

from __future__ import annotations

import os

import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


import pytest  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests, with the reason, where torch sees no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Every catalogue model (first preset) exported once to ONNX: name → (BuiltModel, path)."""
    from stmocap.export.catalog import CATALOG, build_model
    from stmocap.export.onnx_export import export_onnx

    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for name in CATALOG:
        built = build_model(name)
        path = folder / f"{name}.onnx"
        export_onnx(built, path)
        out[name] = (built, path)
    return out
