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


def test_the_embedding_tap_is_what_the_heads_read() -> None:
    """The tapped feature map leaves the other outputs unchanged, and the landmark and world heads
    (2×2 convolutions) applied to it by hand give those outputs: it holds all they are read from."""
    from stmocap.models.blazepose.graph import LANDMARK_EMBEDDING
    from stmocap.models.temporal.features import EMBEDDING_DIM

    plain = load_graph("pose_landmark_full", outputs=LANDMARK_OUTPUTS)
    tapped = load_graph("pose_landmark_full", outputs=LANDMARK_OUTPUTS, taps=(LANDMARK_EMBEDDING,))
    x = torch.from_numpy(np.load(DATA / "pose_landmark_full_reference.npz")["input"])
    with torch.no_grad():
        want, got = plain(x), tapped(x)
    assert len(got) == len(want) + 1
    for a, b in zip(want, got, strict=False):
        assert torch.equal(a, b)
    emb = got[-1]
    assert emb.shape == (1, 2, 2, 288) and emb.numel() == EMBEDDING_DIM
    assert float(emb.min()) >= 0.0 and float(emb.max()) <= 6.0  # after a ReLU6
    heads = {op["outputs"][0]: op for op in tapped.ops if op["inputs"][0] == LANDMARK_EMBEDDING}
    for conv_out, out in ((336, got[0]), (338, got[3])):  # landmarks (195), world (117)
        op = heads[conv_out]
        w = tapped._get(f"w{op['inputs'][1]}")  # (O, 288, 2, 2)
        b = tapped._get(f"b{op['inputs'][2]}")
        by_hand = torch.einsum("ochw,hwc->o", w, emb[0]) + b
        torch.testing.assert_close(by_hand, out.reshape(-1), rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="no tensor"):
        load_graph("pose_landmark_full", taps=(999_999,))
