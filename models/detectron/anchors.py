"""Anchors and the (dx, dy, dw, dh) box transform of detectron2's Faster R-CNN.

Boxes are (N, 4) float32 ``x0, y0, x1, y1`` in pixels of the network input (the resized image).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# detectron2's default clamp of dw, dh: exp() never grows a box more than 1000/16 times.
SCALE_CLAMP = math.log(1000.0 / 16)


def cell_anchors(size: float, aspect_ratios: tuple[float, ...]) -> Tensor:
    """(A, 4) anchors centred on (0, 0), one per aspect ratio h/w, each of area ``size²``.
    Computed in float64 and rounded once to float32."""
    rows = []
    for ratio in aspect_ratios:
        w = math.sqrt(size * size / ratio)
        h = ratio * w
        rows.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
    return torch.tensor(rows, dtype=torch.float64).float()


def grid_anchors(base: Tensor, grid: tuple[int, int], stride: int, offset: float = 0.0) -> Tensor:
    """All anchors of one level: (Hi·Wi·A, 4), ordered row-major over cells, anchors innermost
    (the same order as the flattened (Hi, Wi, A) RPN outputs). Cell (i, j) is shifted by
    ``((j + offset)·stride, (i + offset)·stride)``."""
    gh, gw = grid
    xs = torch.arange(offset * stride, gw * stride, step=stride, dtype=torch.float32)
    ys = torch.arange(offset * stride, gh * stride, step=stride, dtype=torch.float32)
    sy, sx = torch.meshgrid(ys, xs, indexing="ij")
    sx, sy = sx.reshape(-1), sy.reshape(-1)
    shifts = torch.stack((sx, sy, sx, sy), dim=1)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


def apply_deltas(deltas: Tensor, boxes: Tensor, weights: tuple[float, float, float, float],
                 scale_clamp: float = SCALE_CLAMP) -> Tensor:
    """Decode (N, 4k) deltas against (N, 4) boxes → (N, 4k) boxes, in float32.

    ``cx' = dx/wx · w + cx``, ``w' = exp(min(dw/ww, clamp)) · w`` (likewise y, h), corners at
    ``cx' ∓ w'/2``; width is ``x1 − x0`` (no +1)."""
    deltas = deltas.float()
    boxes = boxes.to(deltas.dtype)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    cx = boxes[:, 0] + 0.5 * w
    cy = boxes[:, 1] + 0.5 * h
    wx, wy, ww, wh = weights
    dx = deltas[:, 0::4] / wx
    dy = deltas[:, 1::4] / wy
    dw = torch.clamp(deltas[:, 2::4] / ww, max=scale_clamp)
    dh = torch.clamp(deltas[:, 3::4] / wh, max=scale_clamp)
    pcx = dx * w[:, None] + cx[:, None]
    pcy = dy * h[:, None] + cy[:, None]
    pw = torch.exp(dw) * w[:, None]
    ph = torch.exp(dh) * h[:, None]
    out = torch.stack((pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph), dim=-1)
    return out.reshape(deltas.shape)


def get_deltas(src: Tensor, dst: Tensor, weights: tuple[float, float, float, float]) -> Tensor:
    """Inverse of :func:`apply_deltas` (no clamp): (N, 4) boxes → (N, 4) deltas taking src to dst."""
    sw, sh = src[:, 2] - src[:, 0], src[:, 3] - src[:, 1]
    scx, scy = src[:, 0] + 0.5 * sw, src[:, 1] + 0.5 * sh
    dw_, dh_ = dst[:, 2] - dst[:, 0], dst[:, 3] - dst[:, 1]
    dcx, dcy = dst[:, 0] + 0.5 * dw_, dst[:, 1] + 0.5 * dh_
    wx, wy, ww, wh = weights
    return torch.stack((wx * (dcx - scx) / sw, wy * (dcy - scy) / sh,
                        ww * torch.log(dw_ / sw), wh * torch.log(dh_ / sh)), dim=1)


def clip_boxes(boxes: Tensor, height: int, width: int) -> Tensor:
    """Clamp x to [0, width] and y to [0, height]: (N, 4) → (N, 4)."""
    x0 = boxes[:, 0].clamp(min=0, max=width)
    y0 = boxes[:, 1].clamp(min=0, max=height)
    x1 = boxes[:, 2].clamp(min=0, max=width)
    y1 = boxes[:, 3].clamp(min=0, max=height)
    return torch.stack((x0, y0, x1, y1), dim=-1)


def nonempty(boxes: Tensor, threshold: float = 0.0) -> Tensor:
    """(N,) bool: both sides longer than ``threshold``."""
    return ((boxes[:, 2] - boxes[:, 0]) > threshold) & ((boxes[:, 3] - boxes[:, 1]) > threshold)
