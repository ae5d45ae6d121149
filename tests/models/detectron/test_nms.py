"""Our NMS against a brute-force greedy reference written from the definition."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from stmocap.models.detectron.nms import batched_nms, nms, pairwise_iou


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _brute(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        if all(groups[i] != groups[k] or _iou(boxes[i], boxes[k]) <= thr for k in kept):
            kept.append(i)
    return kept


def _boxes(draw: st.DrawFn, n: int) -> np.ndarray:
    xy = np.array(draw(st.lists(st.tuples(*[st.integers(0, 40)] * 2, *[st.integers(1, 25)] * 2),
                                min_size=n, max_size=n)), dtype=np.float32).reshape(n, 4)
    return np.concatenate([xy[:, :2], xy[:, :2] + xy[:, 2:]], axis=1)


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    n = draw(st.integers(0, 30))
    boxes = _boxes(draw, n)  # integer corners: many exact overlaps and IoU ties
    # Scores from a small set, so equal scores (tie order) are exercised too.
    scores = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)), np.float32) / 8
    groups = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.int64)
    thr = draw(st.sampled_from([0.0, 0.3, 0.5, 0.7, 0.9]))
    return boxes, scores, groups, thr


@given(problems())
def test_nms_equals_brute_force(p: tuple[np.ndarray, np.ndarray, np.ndarray, float]) -> None:
    boxes, scores, _, thr = p
    got = nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).tolist()
    assert got == _brute(boxes, scores, np.zeros(len(scores), np.int64), thr)


@given(problems())
def test_batched_nms_equals_per_group_brute_force(p: tuple[np.ndarray, np.ndarray, np.ndarray, float]
                                                  ) -> None:
    boxes, scores, groups, thr = p
    got = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(groups), thr)
    want = _brute(boxes, scores, groups, thr)
    assert sorted(got.tolist()) == sorted(want)
    # Sorted by score, highest first.
    assert (np.diff(scores[got.numpy()]) <= 0).all()


def test_iou_known_values() -> None:
    a = torch.tensor([[0.0, 0, 10, 10]])
    b = torch.tensor([[0.0, 0, 10, 10], [5, 0, 15, 10], [10, 10, 20, 20], [0, 0, 5, 5]])
    np.testing.assert_allclose(pairwise_iou(a, b).numpy(), [[1.0, 50 / 150, 0.0, 0.25]], rtol=1e-6)


def test_threshold_is_strict() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 10], [5, 0, 15, 10]])  # IoU exactly 1/3
    assert nms(boxes, torch.tensor([1.0, 0.5]), 1 / 3 + 1e-7).tolist() == [0, 1]
    assert nms(boxes, torch.tensor([1.0, 0.5]), 0.3).tolist() == [0]
