"""roi_align against a direct per-sample numpy reference of torchvision's ROIAlign semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from stmocap.models.detectron.roi_align import roi_align


def _bilinear(fmap: np.ndarray, y: float, x: float) -> np.ndarray:
    """One bilinear sample of ``fmap (C, H, W)`` with ROIAlign's border rules."""
    _, H, W = fmap.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return np.zeros(fmap.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y_lo, x_lo = int(y), int(x)
    if y_lo >= H - 1:
        y_lo = y_hi = H - 1
        y = float(y_lo)
    else:
        y_hi = y_lo + 1
    if x_lo >= W - 1:
        x_lo = x_hi = W - 1
        x = float(x_lo)
    else:
        x_hi = x_lo + 1
    ly, lx = y - y_lo, x - x_lo
    hy, hx = 1.0 - ly, 1.0 - lx
    return (hy * hx * fmap[:, y_lo, x_lo] + hy * lx * fmap[:, y_lo, x_hi]
            + ly * hx * fmap[:, y_hi, x_lo] + ly * lx * fmap[:, y_hi, x_hi])


def reference(features: np.ndarray, rois: np.ndarray, out: tuple[int, int], scale: float,
              ratio: int, aligned: bool) -> np.ndarray:
    """Loop over boxes, bins and samples, exactly as the definition reads (float64)."""
    oh, ow = out
    result = np.zeros((len(rois), features.shape[1], oh, ow))
    off = 0.5 if aligned else 0.0
    for k, (b, x0, y0, x1, y1) in enumerate(rois):
        fmap = features[int(b)]
        sx, sy = x0 * scale - off, y0 * scale - off
        w, h = x1 * scale - off - sx, y1 * scale - off - sy
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        gh = ratio if ratio > 0 else math.ceil(h / oh)
        gw = ratio if ratio > 0 else math.ceil(w / ow)
        count = max(gh * gw, 1)
        for i in range(oh):
            for j in range(ow):
                acc = np.zeros(features.shape[1])
                for a in range(gh):
                    y = sy + i * h / oh + (a + 0.5) * (h / oh) / gh
                    for c in range(gw):
                        x = sx + j * w / ow + (c + 0.5) * (w / ow) / gw
                        acc += _bilinear(fmap, y, x)
                result[k, :, i, j] = acc / count
    return result


@st.composite
def cases(draw):  # type: ignore[no-untyped-def]
    B = draw(st.integers(1, 2))
    C = draw(st.integers(1, 3))
    H = draw(st.integers(1, 9))
    W = draw(st.integers(1, 9))
    scale = draw(st.sampled_from([1.0, 0.5, 0.25, 1 / 3]))
    # Boxes partly or wholly outside the map, tiny (sub-cell, zero and inverted) and large.
    coord = st.floats(-0.6, 1.6).map(float)
    K = draw(st.integers(1, 4))
    rois = []
    for _ in range(K):
        b = draw(st.integers(0, B - 1))
        x0, y0 = draw(coord) * W / scale, draw(coord) * H / scale
        kind = draw(st.sampled_from(["any", "tiny", "point"]))
        if kind == "any":
            x1, y1 = draw(coord) * W / scale, draw(coord) * H / scale
        elif kind == "tiny":
            x1 = x0 + draw(st.floats(0.0, 0.5)) / scale
            y1 = y0 + draw(st.floats(0.0, 0.5)) / scale
        else:
            x1, y1 = x0, y0
        rois.append([b, x0, y0, x1, y1])
    out = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    ratio = draw(st.sampled_from([-1, 0, 1, 2, 3]))
    aligned = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    feats = np.random.default_rng(seed).standard_normal((B, C, H, W))
    return feats, np.asarray(rois, np.float64), out, scale, ratio, aligned


@given(cases())
def test_matches_per_sample_reference(case) -> None:  # type: ignore[no-untyped-def]
    feats, rois, out, scale, ratio, aligned = case
    want = reference(feats, rois, out, scale, ratio, aligned)
    got = roi_align(torch.from_numpy(feats), torch.from_numpy(rois), out, scale, ratio, aligned)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-9)
    # float32 features: coordinates in float32 as torchvision's CPU kernel computes them.
    got32 = roi_align(torch.from_numpy(feats).float(), torch.from_numpy(rois).float(), out, scale,
                      ratio, aligned)
    assert got32.dtype == torch.float32
    np.testing.assert_allclose(got32.numpy(), want, rtol=1e-4, atol=2e-5)


def test_constant_map_pools_to_constant_inside() -> None:
    feats = torch.full((1, 2, 20, 30), 3.5)
    rois = torch.tensor([[0, 8.0, 8.0, 60.0, 40.0], [0, 0.0, 0.0, 119.0, 79.0]])
    for aligned in (False, True):
        got = roi_align(feats, rois, (7, 5), 0.25, 2, aligned)
        assert got.shape == (2, 2, 7, 5)
        torch.testing.assert_close(got, torch.full_like(got, 3.5))


def test_linear_ramp_is_sampled_at_bin_centres() -> None:
    # f(y, x) = x on a 1/4-scale map: with 1 sample per bin the output is each bin centre's x.
    W = 40
    feats = torch.arange(W, dtype=torch.float64).expand(1, 1, 30, W).contiguous()
    rois = torch.tensor([[0, 20.0, 12.0, 100.0, 60.0]], dtype=torch.float64)
    got = roi_align(feats, rois, (3, 4), 0.25, 1, aligned=True)
    x0, x1 = 20 * 0.25 - 0.5, 100 * 0.25 - 0.5
    centres = x0 + (torch.arange(4, dtype=torch.float64) + 0.5) * (x1 - x0) / 4
    torch.testing.assert_close(got[0, 0], centres.expand(3, 4))


def test_far_outside_is_zero_and_batch_index_selects_image() -> None:
    feats = torch.stack([torch.ones(1, 8, 8), 2 * torch.ones(1, 8, 8)])
    rois = torch.tensor([[1, 2.0, 2.0, 6.0, 6.0], [0, 100.0, 100.0, 120.0, 130.0]])
    got = roi_align(feats, rois, (2, 2), 1.0, 0, aligned=False)
    torch.testing.assert_close(got[0], torch.full((1, 2, 2), 2.0))
    torch.testing.assert_close(got[1], torch.zeros(1, 2, 2))


def test_no_boxes_and_bad_shapes() -> None:
    feats = torch.randn(1, 3, 5, 5)
    for ratio in (0, 2):
        assert roi_align(feats, torch.zeros(0, 5), (4, 4), 1.0, ratio, False).shape == (0, 3, 4, 4)
    with pytest.raises(ValueError, match=r"rois \(K, 5\)"):
        roi_align(feats, torch.zeros(3, 4), (4, 4), 1.0, 2, False)


def test_onnx_export_with_dynamic_box_count(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")

    class Pool(torch.nn.Module):
        def forward(self, feats: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
            return roi_align(feats, rois, (6, 6), 0.25, 2, False)

    feats = torch.randn(2, 4, 16, 20)
    rois = torch.tensor([[0, 3.0, 5.0, 60.0, 40.0], [1, -10.0, 20.0, 30.0, 90.0]])
    path = tmp_path / "roi.onnx"
    k = torch.export.Dim("boxes", min=1, max=64)
    torch.onnx.export(Pool(), (feats, rois), str(path), input_names=["feats", "rois"],
                      output_names=["pooled"], dynamic_shapes=({}, {0: k}), dynamo=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    more = torch.cat([rois, torch.tensor([[1, 10.0, 10.0, 12.0, 11.0], [0, 0.0, 0.0, 80.0, 64.0],
                                          [0, 70.0, 50.0, 90.0, 70.0]])])
    got = sess.run(None, {"feats": feats.numpy(), "rois": more.numpy()})[0]
    np.testing.assert_allclose(got, Pool()(feats, more).numpy(), rtol=1e-5, atol=1e-6)
