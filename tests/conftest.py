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


@pytest.fixture()
def corrupt_jpeg():  # type: ignore[no-untyped-def]
    """``make(path, size=(64, 48))``: a real JPEG file whose headers are destroyed, so OpenCV
    cannot decode it."""
    import cv2
    import numpy as np

    def make(path, size=(64, 48)):  # type: ignore[no-untyped-def]
        img = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), np.uint8)
        data = bytearray(cv2.imencode(".jpg", img)[1].tobytes())
        data[2:300] = bytes(298)
        path.write_bytes(bytes(data))
        assert cv2.imread(str(path)) is None
        return path

    return make


@pytest.fixture()
def broken_frame_video():  # type: ignore[no-untyped-def]
    """``make(path, frames=20, broken=10)``: an MJPG .avi (frame ``i`` grey level ``8·i``) whose
    frame ``broken`` has its JPEG data zeroed, so that one frame does not decode."""
    import cv2
    import numpy as np

    def make(path, frames=20, broken=10):  # type: ignore[no-untyped-def]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
        for i in range(frames):
            img = np.full((120, 160, 3), (8 * i) % 256, np.uint8)
            img[40:60, (4 * i) % 140:(4 * i) % 140 + 20] = (0, 0, 255)
            writer.write(img)
        writer.release()
        data = bytearray(path.read_bytes())
        starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
        assert len(starts) == frames
        data[starts[broken]:starts[broken] + 400] = bytes(400)
        path.write_bytes(bytes(data))
        return path

    return make
