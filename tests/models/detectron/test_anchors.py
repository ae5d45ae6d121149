"""Anchors and the box transform: known answers and the inverse."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from stmocap.models.detectron.anchors import (
    SCALE_CLAMP,
    apply_deltas,
    cell_anchors,
    clip_boxes,
    get_deltas,
    grid_anchors,
    nonempty,
)


def test_cell_anchors_known_values() -> None:
    a = cell_anchors(32.0, (0.5, 1.0, 2.0)).numpy()
    w = math.sqrt(32 * 32 / 0.5)
    np.testing.assert_allclose(a[1], [-16, -16, 16, 16])
    np.testing.assert_allclose(a[0], [-w / 2, -w * 0.25, w / 2, w * 0.25], rtol=1e-6)
    areas = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    np.testing.assert_allclose(areas, 1024.0, rtol=1e-5)
    np.testing.assert_allclose((a[:, 3] - a[:, 1]) / (a[:, 2] - a[:, 0]), [0.5, 1, 2], rtol=1e-5)


def test_grid_anchors_order_cells_row_major_anchors_inner() -> None:
    base = cell_anchors(8.0, (1.0, 2.0))
    g = grid_anchors(base, (2, 3), stride=4)
    assert g.shape == (2 * 3 * 2, 4)
    # Entry (i, j, a) sits at index (i·3 + j)·2 + a, shifted by (4j, 4i).
    i, j, a = 1, 2, 1
    want = base[a] + torch.tensor([8.0, 4, 8, 4])
    np.testing.assert_allclose(g[(i * 3 + j) * 2 + a].numpy(), want.numpy())


def test_apply_deltas_known_answer() -> None:
    box = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # w 20, h 40, centre (20, 40)
    d = torch.tensor([[1.0, -0.5, math.log(2.0), 0.0]])
    out = apply_deltas(d, box, (1.0, 1.0, 1.0, 1.0))
    # centre (20 + 20, 40 − 20) = (40, 20); w 40, h 40
    np.testing.assert_allclose(out.numpy(), [[20.0, 0.0, 60.0, 40.0]], rtol=1e-6)
    # Weights (10, 10, 5, 5) divide the deltas.
    out = apply_deltas(d * torch.tensor([10.0, 10, 5, 5]), box, (10.0, 10.0, 5.0, 5.0))
    np.testing.assert_allclose(out.numpy(), [[20.0, 0.0, 60.0, 40.0]], rtol=1e-5)


def test_scale_clamp() -> None:
    box = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    out = apply_deltas(torch.tensor([[0.0, 0.0, 50.0, 50.0]]), box, (1.0, 1.0, 1.0, 1.0))
    np.testing.assert_allclose((out[0, 2] - out[0, 0]).item(), 16 * math.exp(SCALE_CLAMP), rtol=1e-5)
    assert math.isclose(16 * math.exp(SCALE_CLAMP), 1000.0, rel_tol=1e-5)


def test_several_classes_decode_independently() -> None:
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    d = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    out = apply_deltas(d, box, (1.0, 1.0, 1.0, 1.0))
    np.testing.assert_allclose(out.numpy(), [[0, 0, 10, 10, 10, 0, 20, 10]])


@given(st.lists(st.floats(-2, 2), min_size=4, max_size=4), st.floats(1, 200), st.floats(1, 200))
def test_deltas_round_trip(d: list[float], w: float, h: float) -> None:
    box = torch.tensor([[5.0, 7.0, 5.0 + w, 7.0 + h]], dtype=torch.float64)
    deltas = torch.tensor([d], dtype=torch.float64)
    weights = (10.0, 10.0, 5.0, 5.0)
    dst = apply_deltas(deltas, box, weights).double()
    np.testing.assert_allclose(get_deltas(box, dst, weights).numpy(), deltas.numpy(), atol=1e-3)


def test_clip_and_nonempty() -> None:
    b = torch.tensor([[-5.0, -5, 50, 30], [10, 10, 10, 20], [3, 3, 4, 4]])
    c = clip_boxes(b, 20, 40)
    np.testing.assert_allclose(c[0].numpy(), [0, 0, 40, 20])
    assert nonempty(c).tolist() == [True, False, True]
    assert nonempty(c, 1.0).tolist() == [True, False, False]
