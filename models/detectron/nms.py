"""Greedy non-maximum suppression, plain and per class ("batched"), on CPU or GPU tensors.

Decisions match torchvision's kernel: boxes visited by score, highest first (ties: lower index
first); a box is dropped when its IoU with a kept one is strictly greater than the threshold; IoU
is ``inter / (area_i + area_j − inter)`` in float32 with areas ``(x1 − x0)(y1 − y0)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def pairwise_iou(a: Tensor, b: Tensor) -> Tensor:
    """(N, 4), (M, 4) xyxy → (N, M) IoU, evaluated in the same order as torchvision's kernel."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    w = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0]))
    h = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1]))
    inter = w.clamp(min=0) * h.clamp(min=0)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """(N, 4) boxes, (N,) scores → int64 indices of the kept boxes, by decreasing score."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order].float()
    over = (pairwise_iou(b, b) > iou_threshold).cpu().numpy()
    n = len(order)
    removed = np.zeros(n, dtype=bool)
    keep = []
    for i in range(n):
        if removed[i]:
            continue
        keep.append(i)
        removed |= over[i]
    return order[torch.as_tensor(keep, dtype=torch.int64, device=order.device)]


def batched_nms(boxes: Tensor, scores: Tensor, groups: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each group id (class or pyramid level) independently: boxes of different groups
    never suppress each other. Returns the kept indices sorted by decreasing score."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    kept = []
    for g in torch.unique(groups):
        idx = torch.nonzero(groups == g).squeeze(1)
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    keep = torch.cat(kept)
    keep = torch.sort(keep).values  # index order, then by score (as torchvision's per-class path)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]
