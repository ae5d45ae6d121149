"""Box branch of detectron2's ``StandardROIHeads`` at TEST time: multi-level ROIAlign pooler,
``FastRCNNConvFCHead`` (fc layers only) and ``FastRCNNOutputLayers`` inference.

Parameter names match detectron2's ``roi_heads.*`` keys: ``box_head.fc{1..n}`` and
``box_predictor.{cls_score,bbox_pred}``. Boxes are xyxy pixels of the network input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from stmocap.models.detectron.anchors import SCALE_CLAMP, apply_deltas, clip_boxes
from stmocap.models.detectron.config import DetectronConfig
from stmocap.models.detectron.nms import batched_nms
from torch import Tensor, nn

POOLER_LEVELS = ("p2", "p3", "p4", "p5")

# roi_align(features (B, C, H, W), rois (K, 5) [batch, x0, y0, x1, y1] in input pixels,
#           output_size, spatial_scale, sampling_ratio, aligned) → (K, C, oh, ow)
RoIAlignFn = Callable[[Tensor, Tensor, tuple[int, int], float, int, bool], Tensor]


def _default_roi_align() -> RoIAlignFn:
    from stmocap.models.detectron.roi_align import roi_align

    return roi_align


def assign_levels(boxes: Tensor, canonical_size: float, canonical_level: int, min_level: int,
                  max_level: int) -> Tensor:
    """(K, 4) boxes → (K,) int64 pyramid index from 0 (= ``min_level``):
    ``clamp(floor(canonical_level + log2(sqrt(area) / canonical_size + 1e-8)))``."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lvl = torch.floor(canonical_level + torch.log2(torch.sqrt(area) / canonical_size + 1e-8))
    return torch.clamp(lvl, min=min_level, max=max_level).to(torch.int64) - min_level


class MultiLevelRoIPooler(nn.Module):
    """p2..p5 maps + per-image boxes → (K, C, r, r), each box pooled on its assigned level."""

    def __init__(self, cfg: DetectronConfig, roi_align: RoIAlignFn | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self._roi_align = roi_align
        self.min_level, self.max_level = 2, 5

    def forward(self, features: dict[str, Tensor], boxes: list[Tensor]) -> Tensor:
        """features p2..p5 (B, C, Hi, Wi); boxes[b] (Kb, 4) → (ΣKb, C, r, r) in the boxes' order."""
        c = self.cfg
        fn = self._roi_align or _default_roi_align()
        maps = [features[k] for k in POOLER_LEVELS]
        rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i), dtype=b.dtype, device=b.device),
                                     b], dim=1) for i, b in enumerate(boxes)])
        levels = assign_levels(rois[:, 1:], c.canonical_box_size, c.canonical_level,
                               self.min_level, self.max_level)
        r = c.pooler_resolution
        out = maps[0].new_zeros((len(rois), maps[0].shape[1], r, r))
        for i, fmap in enumerate(maps):
            idx = torch.nonzero(levels == i).squeeze(1)
            if len(idx):
                scale = 1.0 / 2 ** (self.min_level + i)
                out[idx] = fn(fmap, rois[idx], (r, r), scale, c.pooler_sampling_ratio, c.pooler_aligned)
        return out


class FastRCNNConvFCHead(nn.Module):
    """(K, C, r, r) → flatten → ``num_fc`` × (Linear ``fc_dim`` + ReLU) → (K, fc_dim)."""

    def __init__(self, cfg: DetectronConfig) -> None:
        super().__init__()
        dim = cfg.fpn_channels * cfg.pooler_resolution**2
        self.num_fc = cfg.num_fc
        for i in range(cfg.num_fc):
            self.add_module(f"fc{i + 1}", nn.Linear(dim, cfg.fc_dim))
            dim = cfg.fc_dim

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        for i in range(self.num_fc):
            x = F.relu(getattr(self, f"fc{i + 1}")(x))
        return x


class BoxPredictor(nn.Module):
    """(K, fc_dim) → class logits (K, num_classes + 1; background last), deltas (K, 4·num_classes)."""

    def __init__(self, cfg: DetectronConfig) -> None:
        super().__init__()
        self.cls_score = nn.Linear(cfg.fc_dim, cfg.num_classes + 1)
        self.bbox_pred = nn.Linear(cfg.fc_dim, cfg.num_classes * 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.cls_score(x), self.bbox_pred(x)


@dataclass(frozen=True)
class BoxHeadOutput:
    """logits (K, num_classes + 1), deltas (K, 4·num_classes) for all proposals of all images;
    per image: boxes (N, 4) xyxy in the network input, scores (N,), classes (N,) int64."""

    logits: Tensor
    deltas: Tensor
    boxes: list[Tensor]
    scores: list[Tensor]
    classes: list[Tensor]


class ROIBoxHeads(nn.Module):
    def __init__(self, cfg: DetectronConfig, roi_align: RoIAlignFn | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.box_pooler = MultiLevelRoIPooler(cfg, roi_align)
        self.box_head = FastRCNNConvFCHead(cfg)
        self.box_predictor = BoxPredictor(cfg)

    def forward(self, features: dict[str, Tensor], proposals: list[Tensor],
                image_sizes: list[tuple[int, int]]) -> BoxHeadOutput:
        logits, deltas = self.box_predictor(self.box_head(self.box_pooler(features, proposals)))
        probs = F.softmax(logits, dim=-1)
        decoded = apply_deltas(deltas, torch.cat(proposals), self.cfg.box_reg_weights, SCALE_CLAMP)
        counts = [len(p) for p in proposals]
        boxes, scores, classes = [], [], []
        for b, s, size in zip(decoded.split(counts), probs.split(counts), image_sizes, strict=True):
            bb, ss, cc = self.select(b, s, size)
            boxes.append(bb)
            scores.append(ss)
            classes.append(cc)
        return BoxHeadOutput(logits, deltas, boxes, scores, classes)

    def select(self, boxes: Tensor, probs: Tensor, size: tuple[int, int]
               ) -> tuple[Tensor, Tensor, Tensor]:
        """One image: (R, 4C) boxes and (R, C+1) softmax → drop non-finite rows → clip → keep
        (box, class) pairs with score > ``score_thresh`` → NMS per class at ``nms_thresh`` → the
        best ``detections_per_image``."""
        c = self.cfg
        ok = torch.isfinite(boxes).all(dim=1) & torch.isfinite(probs).all(dim=1)
        if not bool(ok.all()):
            boxes, probs = boxes[ok], probs[ok]
        probs = probs[:, :-1]
        boxes = clip_boxes(boxes.reshape(-1, 4), *size).view(-1, c.num_classes, 4)
        mask = probs > c.score_thresh
        rows, cls = torch.nonzero(mask, as_tuple=True)
        boxes = boxes[rows, cls]
        scores = probs[mask]
        keep = batched_nms(boxes, scores, cls, c.nms_thresh)
        if c.detections_per_image >= 0:
            keep = keep[: c.detections_per_image]
        return boxes[keep], scores[keep], cls[keep]


