"""Region proposal network of detectron2's ``StandardRPNHead`` + ``RPN`` at TEST time.

Parameter names match detectron2's ``proposal_generator.*`` keys: ``rpn_head.conv`` (3×3),
``rpn_head.objectness_logits`` (1×1, A outputs) and ``rpn_head.anchor_deltas`` (1×1, 4A outputs).
Boxes are xyxy pixels of the network input (the resized image before padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from stmocap.models.detectron.anchors import (
    SCALE_CLAMP,
    apply_deltas,
    cell_anchors,
    clip_boxes,
    grid_anchors,
    nonempty,
)
from stmocap.models.detectron.config import DetectronConfig
from stmocap.models.detectron.fpn import LEVELS, STRIDES
from stmocap.models.detectron.nms import batched_nms
from torch import Tensor, nn

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)


class RPNHead(nn.Module):
    """Shared over levels: (B, C, Hi, Wi) → objectness (B, A, Hi, Wi), deltas (B, 4A, Hi, Wi)."""

    def __init__(self, channels: int, num_anchors: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.objectness_logits = nn.Conv2d(channels, num_anchors, 1)
        self.anchor_deltas = nn.Conv2d(channels, num_anchors * 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        t = F.relu(self.conv(x))
        return self.objectness_logits(t), self.anchor_deltas(t)


@dataclass(frozen=True)
class RPNOutput:
    """Raw per-level head outputs, flattened in (Hi, Wi, A) order, and the proposals of image 0.

    objectness[i]: (B, Hi·Wi·A); deltas[i]: (B, Hi·Wi·A, 4); anchors[i]: (Hi·Wi·A, 4);
    proposals: (P, 4) xyxy; proposal_logits: (P,), sorted by decreasing logit."""

    objectness: list[Tensor]
    deltas: list[Tensor]
    anchors: list[Tensor]
    proposals: list[Tensor]
    proposal_logits: list[Tensor]


class RPN(nn.Module):
    def __init__(self, cfg: DetectronConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rpn_head = RPNHead(cfg.fpn_channels, len(cfg.aspect_ratios))
        self._cells = [cell_anchors(s, cfg.aspect_ratios) for s in cfg.anchor_sizes]

    def anchors(self, features: dict[str, Tensor]) -> list[Tensor]:
        """(Hi·Wi·A, 4) anchors per level p2..p6, on the features' device."""
        out = []
        for lvl, base in zip(LEVELS, self._cells, strict=True):
            f = features[lvl]
            a = grid_anchors(base, (f.shape[-2], f.shape[-1]), STRIDES[lvl], self.cfg.anchor_offset)
            out.append(a.to(f.device))
        return out

    def forward(self, features: dict[str, Tensor], image_sizes: list[tuple[int, int]]) -> RPNOutput:
        """features p2..p6 (B, C, Hi, Wi); image_sizes (h, w) of each resized image before padding."""
        objectness, deltas = [], []
        for lvl in LEVELS:
            o, d = self.rpn_head(features[lvl])
            B, A, H, W = o.shape
            objectness.append(o.permute(0, 2, 3, 1).flatten(1))
            deltas.append(d.view(B, A, 4, H, W).permute(0, 3, 4, 1, 2).reshape(B, H * W * A, 4))
        anchors = self.anchors(features)
        boxes = [apply_deltas(d.reshape(-1, 4), a.repeat(d.shape[0], 1), RPN_WEIGHTS, SCALE_CLAMP)
                 .view(d.shape) for d, a in zip(deltas, anchors, strict=True)]
        props, logits = [], []
        for n, size in enumerate(image_sizes):
            p, s = self.select(boxes, objectness, n, size)
            props.append(p)
            logits.append(s)
        return RPNOutput(objectness, deltas, anchors, props, logits)

    def select(self, boxes: list[Tensor], logits: list[Tensor], n: int, size: tuple[int, int]
               ) -> tuple[Tensor, Tensor]:
        """Top ``rpn_pre_nms_topk`` per level by logit → drop non-finite → clip to the image →
        drop boxes with a side ≤ ``rpn_min_size`` → NMS per level at ``rpn_nms_thresh`` → the best
        ``rpn_post_nms_topk`` over all levels. Returns (P, 4) boxes and (P,) logits."""
        c = self.cfg
        sel_boxes, sel_scores, sel_lvl = [], [], []
        for i, (b, s) in enumerate(zip(boxes, logits, strict=True)):
            k = min(s.shape[1], c.rpn_pre_nms_topk)
            top, idx = s[n].topk(k)
            sel_boxes.append(b[n, idx])
            sel_scores.append(top)
            sel_lvl.append(torch.full((k,), i, dtype=torch.int64, device=s.device))
        bx, sc, lv = torch.cat(sel_boxes), torch.cat(sel_scores), torch.cat(sel_lvl)
        ok = torch.isfinite(bx).all(dim=1) & torch.isfinite(sc)
        if not bool(ok.all()):
            bx, sc, lv = bx[ok], sc[ok], lv[ok]
        bx = clip_boxes(bx, *size)
        ok = nonempty(bx, c.rpn_min_size)
        if not bool(ok.all()):
            bx, sc, lv = bx[ok], sc[ok], lv[ok]
        keep = batched_nms(bx, sc, lv, c.rpn_nms_thresh)[: c.rpn_post_nms_topk]
        return bx[keep], sc[keep]
