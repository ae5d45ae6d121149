"""The person-detector contract every detector (BlazePose's own, a user's ONNX model) fits."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class PersonDetector(Protocol):
    """Finds people in one image.

    ``__call__(image_rgb)`` takes ``(H, W, 3)`` uint8 RGB and returns ``(boxes, scores)``:
    ``boxes (N, 4)`` float32 ``x0, y0, x1, y1`` in pixels of that image (origin top-left, x right,
    y down), ``scores (N,)`` float32 in [0, 1], sorted best first, after non-maximum suppression.
    ``N`` may be 0.
    """

    def __call__(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def box_area(boxes: np.ndarray) -> np.ndarray:
    """``(..., 4)`` → ``(...)`` areas (0 for empty boxes)."""
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a (N, 4)`` with every box of ``b (M, 4)``: ``(N, M)`` float64."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None]
    lo = np.maximum(a[..., :2], b[..., :2])
    hi = np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    union = box_area(a) + box_area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices ``(K,)`` of the kept ``boxes (N, 4)``, best first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    overlap = iou_matrix(boxes, boxes)
    keep: list[int] = []
    for i in order:
        if all(overlap[i, k] <= iou for k in keep):
            keep.append(int(i))
    return np.asarray(keep, np.int64)


def empty() -> tuple[np.ndarray, np.ndarray]:
    """No person: ``boxes (0, 4)``, ``scores (0,)``."""
    return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
