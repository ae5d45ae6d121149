"""Faster R-CNN (ResNet-FPN, RPN, box head) of DensePose-CSE checkpoints, and a person detector.

``FasterRCNN`` mirrors detectron2's ``GeneralizedRCNN`` module tree, so its state-dict names are
the checkpoint's. ``PersonDetector`` runs it on one RGB frame: preprocess → p2..p6 → proposals →
boxes, returned in the pixels of the frame given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stmocap.models.detectron.anchors import clip_boxes, nonempty
from stmocap.models.detectron.box_head import BoxHeadOutput, RoIAlignFn, ROIBoxHeads
from stmocap.models.detectron.checkpoint import LoadReport, load_pkl, load_state
from stmocap.models.detectron.config import PRESETS, DetectronConfig
from stmocap.models.detectron.fpn import ResNetFPN
from stmocap.models.detectron.preprocess import Preprocessed, Resize, preprocess_bgr
from stmocap.models.detectron.rpn import RPN, RPNOutput
from torch import Tensor, nn

PERSON = 0


class FasterRCNN(nn.Module):
    """``backbone`` (ResNet-FPN), ``proposal_generator`` (RPN), ``roi_heads`` (box branch)."""

    def __init__(self, cfg: DetectronConfig, roi_align: RoIAlignFn | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = ResNetFPN(cfg)
        self.proposal_generator = RPN(cfg)
        self.roi_heads = ROIBoxHeads(cfg, roi_align)

    def forward(self, images: Tensor, image_sizes: list[tuple[int, int]]
                ) -> tuple[dict[str, Tensor], RPNOutput, BoxHeadOutput]:
        """images (B, 3, hp, wp) preprocessed; image_sizes (h, w) before padding →
        (p2..p6, RPN output, box-head output), boxes in network-input pixels."""
        feats = self.backbone(images)
        rpn = self.proposal_generator(feats, image_sizes)
        boxes = self.roi_heads(feats, rpn.proposals, image_sizes)
        return feats, rpn, boxes


@dataclass(frozen=True)
class Detections:
    """One frame. boxes (N, 4) float32 xyxy in the frame's pixels; scores (N,) float32, descending;
    boxes_input (N, 4): the same boxes in network-input pixels (what a ROI head pools);
    features: p2..p6, each (1, C, hp/s, wp/s); pre: the preprocessing (sizes, scale)."""

    boxes: np.ndarray
    scores: np.ndarray
    boxes_input: Tensor
    features: dict[str, Tensor]
    pre: Preprocessed


class PersonDetector:
    """People in one RGB frame with a DensePose-CSE checkpoint's Faster R-CNN stage (eval, no grad).

    ``PersonDetector.from_checkpoint(path, "R_101_FPN")`` loads a model-zoo ``.pkl``;
    ``PersonDetector("tiny")`` builds random weights (seeded by the caller's RNG)."""

    def __init__(self, cfg: DetectronConfig | str = "R_50_FPN", model: FasterRCNN | None = None,
                 device: str | torch.device = "cpu", resize: Resize = "pil",
                 roi_align: RoIAlignFn | None = None) -> None:
        self.cfg = PRESETS[cfg] if isinstance(cfg, str) else cfg
        self.model = (model or FasterRCNN(self.cfg, roi_align)).eval().to(device)
        self.device = torch.device(device)
        self.resize: Resize = resize
        self.load_report: LoadReport | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, cfg: DetectronConfig | str = "R_101_FPN",
                        device: str | torch.device = "cpu", resize: Resize = "pil",
                        strict: bool = True, weights: dict[str, np.ndarray] | None = None
                        ) -> PersonDetector:
        """``weights``: the file's arrays when the caller has read them already (one read of a
        large ``.pkl`` serves the detector and the DensePose head)."""
        det = cls(cfg, device="cpu", resize=resize)
        det.load_report = (load_pkl(det.model, path, strict=strict) if weights is None
                           else load_state(det.model, weights, str(path), strict))
        det.model.to(device)
        det.device = torch.device(device)
        return det

    def preprocess(self, image_rgb: np.ndarray) -> Preprocessed:
        """(H, W, 3) uint8 RGB → network input (BGR order inside, as the checkpoints expect)."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image_rgb.shape}")
        return preprocess_bgr(np.ascontiguousarray(image_rgb[:, :, ::-1]), self.cfg, self.resize)

    @torch.no_grad()
    def features(self, image_rgb: np.ndarray) -> tuple[dict[str, Tensor], Preprocessed]:
        """p2..p6 of one frame, each (1, fpn_channels, hp/s, wp/s), and its preprocessing."""
        pre = self.preprocess(image_rgb)
        return self.model.backbone(pre.tensor.to(self.device)), pre

    @torch.no_grad()
    def detect(self, image_rgb: np.ndarray) -> Detections:
        """Full forward; persons only, sorted by score, boxes in the frame's pixels."""
        pre = self.preprocess(image_rgb)
        feats, _, out = self.model(pre.tensor.to(self.device), [pre.image_size])
        keep = out.classes[0] == PERSON
        boxes_in, scores = out.boxes[0][keep], out.scores[0][keep]
        boxes = to_original(boxes_in, pre)
        ok = nonempty(boxes)
        order = torch.sort(scores[ok], descending=True, stable=True).indices
        return Detections(boxes[ok][order].cpu().numpy().astype(np.float32),
                          scores[ok][order].cpu().numpy().astype(np.float32),
                          boxes_in[ok][order], feats, pre)

    def __call__(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB → boxes (N, 4) float32 xyxy pixels of this image, scores (N,)."""
        d = self.detect(image_rgb)
        return d.boxes, d.scores


def to_original(boxes: Tensor, pre: Preprocessed) -> Tensor:
    """(N, 4) network-input boxes → the original frame's pixels, clipped to it (detectron2's
    ``detector_postprocess``: x · W/w, y · H/h)."""
    H, W = pre.original_size
    h, w = pre.image_size
    s = boxes.new_tensor([W / w, H / h, W / w, H / h])
    return clip_boxes(boxes * s, H, W)
