"""ROIAlign (bilinear box pooling of Mask R-CNN) in plain torch ops, with torchvision's semantics.

One function, :func:`roi_align`, vectorised over boxes (a single gather, no Python loop over K), so
it runs on any device and exports to ONNX (Gather / Floor / Cast / Where) with a dynamic number of
boxes. It reproduces ``torchvision.ops.roi_align`` (and so detectron2's ``ROIAlign`` layer):

* box corners are mapped to the feature map by ``spatial_scale``; with ``aligned=True`` half a
  pixel is subtracted (pixel centres at +0.5), with ``aligned=False`` it is not and each box is at
  least 1×1 feature cells (the legacy Detectron behaviour);
* each of the ``oh × ow`` bins averages a regular grid of ``sampling_ratio²`` bilinear samples, or
  ``ceil(box_h / oh) × ceil(box_w / ow)`` samples per box when ``sampling_ratio <= 0`` (adaptive);
* a sample beyond one cell outside the map (coordinate < −1 or > size) contributes 0 (still counted
  in the mean); a sample within that margin is clamped to the border.

Coordinates are computed in float32 (or float64 for float64 features) whatever the feature dtype,
then the weights are cast to it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _axis_samples(start: Tensor, length: Tensor, bins: int, grid: Tensor, max_grid: int) -> Tensor:
    """Sample coordinates along one axis: ``(K, bins, max_grid)``.

    ``start``, ``length`` and ``grid`` are ``(K,)``: box start and extent in feature cells, and the
    number of samples per bin for each box (samples at index ≥ ``grid`` are padding).
    """
    dtype = start.dtype
    bin_size = length / bins  # (K,)
    b = torch.arange(bins, dtype=dtype, device=start.device)
    i = torch.arange(max_grid, dtype=dtype, device=start.device) + 0.5
    safe_grid = torch.clamp(grid, min=1.0)  # padding of an empty grid must stay finite
    bin_start = start[:, None] + b[None, :] * bin_size[:, None]  # (K, bins)
    step = (i[None, :] * bin_size[:, None]) / safe_grid[:, None]  # (K, max_grid)
    return bin_start[:, :, None] + step[:, None, :]


def _axis_weights(coord: Tensor, size: int, used: Tensor) -> tuple[Tensor, Tensor]:
    """Bilinear corners along one axis for coordinates ``coord`` (any shape) on ``size`` cells.

    Returns ``(index, weight)``, each of shape ``(*coord.shape, 2)``: the low and high cell and
    their weights, 0 for samples outside ``[-1, size]`` or where ``used`` (same shape) is False.
    """
    inside = (coord >= -1.0) & (coord <= float(size)) & used
    c = torch.clamp(coord, min=0.0)
    low = torch.floor(c)
    last = float(size - 1)
    at_end = low >= last
    low = torch.where(at_end, torch.full_like(low, last), low)
    high = torch.where(at_end, low, low + 1.0)
    c = torch.where(at_end, low, c)
    frac = c - low
    zero = torch.zeros_like(frac)
    w_low = torch.where(inside, 1.0 - frac, zero)
    w_high = torch.where(inside, frac, zero)
    index = torch.stack([low, high], dim=-1).to(torch.int64)
    return index, torch.stack([w_low, w_high], dim=-1)


def roi_align(features: Tensor, rois: Tensor, output_size: tuple[int, int], spatial_scale: float,
              sampling_ratio: int, aligned: bool) -> Tensor:
    """Pool ``features`` inside each box to a fixed ``output_size`` grid.

    Args:
        features: ``(B, C, H, W)`` feature maps.
        rois: ``(K, 5)`` rows ``[batch_index, x0, y0, x1, y1]``, the box in input-image pixels
            (x right, y down); ``batch_index`` selects the image in ``features`` (truncated to int).
        output_size: ``(oh, ow)`` bins per box.
        spatial_scale: feature cells per input pixel (1/stride, e.g. 0.25 for stride 4).
        sampling_ratio: samples per bin along each axis; ``<= 0`` chooses ``ceil(box / bins)`` per
            box (needs a host sync for the largest box, so not for export).
        aligned: subtract half a pixel from the scaled corners (ROIAlignV2) instead of the legacy
            behaviour (no shift, boxes at least one cell wide and high).

    Returns:
        ``(K, C, oh, ow)``, each bin the mean of its bilinear samples; bin ``(i, j)`` covers rows
        ``y0 + i·h/oh .. y0 + (i+1)·h/oh`` of the box (box-relative, top-left first).
    """
    if features.dim() != 4 or rois.dim() != 2 or rois.shape[-1] != 5:
        raise ValueError(f"roi_align needs features (B, C, H, W) and rois (K, 5), got "
                         f"{tuple(features.shape)} and {tuple(rois.shape)}")
    oh, ow = int(output_size[0]), int(output_size[1])
    B, C, H, W = features.shape
    cdtype = torch.float64 if features.dtype == torch.float64 else torch.float32
    r = rois.to(cdtype)
    offset = 0.5 if aligned else 0.0
    x0 = r[:, 1] * spatial_scale - offset
    y0 = r[:, 2] * spatial_scale - offset
    box_w = (r[:, 3] * spatial_scale - offset) - x0
    box_h = (r[:, 4] * spatial_scale - offset) - y0
    if not aligned:
        box_w = torch.clamp(box_w, min=1.0)
        box_h = torch.clamp(box_h, min=1.0)
    if sampling_ratio > 0:
        grid_h = torch.full_like(box_h, float(sampling_ratio))
        grid_w = torch.full_like(box_w, float(sampling_ratio))
        max_h = max_w = int(sampling_ratio)
    else:
        grid_h = torch.ceil(box_h / oh)
        grid_w = torch.ceil(box_w / ow)
        if rois.shape[0] == 0:
            max_h = max_w = 1
        else:
            max_h = max(int(grid_h.max().item()), 1)
            max_w = max(int(grid_w.max().item()), 1)
    # Samples per bin; an empty grid (adaptive, box of zero or negative size) gives 0 like torchvision.
    count = torch.clamp(grid_h * grid_w, min=1.0)

    ys = _axis_samples(y0, box_h, oh, grid_h, max_h)  # (K, oh, Sh)
    xs = _axis_samples(x0, box_w, ow, grid_w, max_w)  # (K, ow, Sw)
    used_h = torch.arange(max_h, device=ys.device, dtype=cdtype)[None, None, :] < grid_h[:, None, None]
    used_w = torch.arange(max_w, device=xs.device, dtype=cdtype)[None, None, :] < grid_w[:, None, None]
    iy, wy = _axis_weights(ys, H, used_h.expand_as(ys))  # (K, oh, Sh, 2)
    ix, wx = _axis_weights(xs, W, used_w.expand_as(xs))  # (K, ow, Sw, 2)
    K = rois.shape[0]
    iy = iy.reshape(K, oh, 1, 2 * max_h, 1)
    wy = wy.reshape(K, oh, 1, 2 * max_h, 1)
    ix = ix.reshape(K, 1, ow, 1, 2 * max_w)
    wx = wx.reshape(K, 1, ow, 1, 2 * max_w)
    batch = r[:, 0].to(torch.int64).reshape(K, 1, 1, 1, 1)
    # (K, oh, ow, 2Sh, 2Sw): flat index into (B·H·W) and the weight of every corner of every sample.
    flat = batch * (H * W) + iy * W + ix
    weight = (wy * wx) / count.reshape(K, 1, 1, 1, 1)
    table = features.permute(1, 0, 2, 3).reshape(C, B * H * W)
    values = table[:, flat.reshape(-1)].reshape(C, K, oh, ow, 4 * max_h * max_w)
    pooled = (values * weight.reshape(1, K, oh, ow, 4 * max_h * max_w).to(features.dtype)).sum(dim=-1)
    return pooled.permute(1, 0, 2, 3)
