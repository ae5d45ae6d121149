"""The PyTorch port of BlazePose's networks against the TFLite interpreter's own outputs.

The references (``data/*_reference.npz``) were written by ``scripts/convert_blazepose.py`` with the
original .tflite files in ai-edge-litert, on a fixed random input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.blazepose.graph import LANDMARK_OUTPUTS, load_graph

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("name", "tolerances"),
    [
        # (max-abs tolerance per output, in the output's units)
        ("pose_detection", (2e-3, 2e-3)),  # box/keypoint offsets in 224-px units; score logits
        ("pose_landmark_full", (5e-3, 1e-6, 0.5, 1e-3, 1e-4)),  # px; flag; seg logits; heatmap; m
    ],
)
def test_matches_tflite(name: str, tolerances: tuple[float, ...]) -> None:
    graph = load_graph(name)
    ref = np.load(DATA / f"{name}_reference.npz")
    with torch.no_grad():
        outs = graph(torch.from_numpy(ref["input"]))
    assert len(outs) == len(tolerances)
    for j, (out, tol) in enumerate(zip(outs, tolerances, strict=True)):
        want = ref[f"output_{j}"]
        assert out.shape == want.shape
        err = float(np.abs(out.numpy() - want).max())
        assert err <= tol, f"output {j}: max-abs error {err} > {tol}"


def test_weights_ship_with_the_package_and_notice() -> None:
    from importlib import resources

    data = resources.files("stmocap.models.blazepose") / "data"
    assert (data / "pose_detection.npz").is_file() and (data / "pose_landmark_full.npz").is_file()
    assert "Apache License" in (data / "NOTICE").read_text()


def test_kept_outputs_are_computed_alone_and_unchanged() -> None:
    """The pipeline's landmark graph drops the segmentation decoder: fewer operators and weights,
    the same four outputs, bit for bit."""
    full = load_graph("pose_landmark_full")
    kept = load_graph("pose_landmark_full", outputs=LANDMARK_OUTPUTS)
    assert len(kept.ops) < len(full.ops)
    assert sum(b.numel() for b in kept.buffers()) < sum(b.numel() for b in full.buffers())
    x = torch.from_numpy(np.load(DATA / "pose_landmark_full_reference.npz")["input"])
    with torch.no_grad():
        every, some = full(x), kept(x)
    assert len(some) == len(LANDMARK_OUTPUTS)
    for j, out in zip(LANDMARK_OUTPUTS, some, strict=True):
        torch.testing.assert_close(out, every[j], rtol=0, atol=0)
