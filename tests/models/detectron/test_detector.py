"""PersonDetector end to end on a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("stmocap.models.detectron.roi_align", reason="roi_align comes from the densepose branch")

from stmocap.models.detectron.box_head import assign_levels
from stmocap.models.detectron.config import TINY
from stmocap.models.detectron.detector import PersonDetector


@pytest.fixture(scope="module")
def detector() -> PersonDetector:
    torch.manual_seed(0)
    return PersonDetector("tiny")


def test_boxes_are_valid_and_sorted(detector: PersonDetector) -> None:
    img = np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    boxes, scores = detector(img)
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and scores.shape == (len(boxes),)
    assert 0 < len(boxes) <= TINY.detections_per_image  # random weights score ~0.5 everywhere
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert (boxes[:, [0, 2]] >= 0).all() and (boxes[:, [0, 2]] <= 160).all()
    assert (boxes[:, [1, 3]] >= 0).all() and (boxes[:, [1, 3]] <= 90).all()
    assert (np.diff(scores) <= 0).all() and (scores > TINY.score_thresh).all() and (scores <= 1).all()


def test_detect_exposes_features_and_input_frame(detector: PersonDetector) -> None:
    img = np.random.default_rng(1).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    d = detector.detect(img)
    hp, wp = d.pre.tensor.shape[-2:]
    assert (hp, wp) == (128, 224) and d.pre.image_size == (126, 224)  # capped by max 224
    for k, s in zip(("p2", "p3", "p4", "p5", "p6"), (4, 8, 16, 32, 64), strict=True):
        assert d.features[k].shape == (1, TINY.fpn_channels, -(-hp // s), -(-wp // s))  # p6: ceil
    scale = np.array([d.pre.scale_x, d.pre.scale_y] * 2, np.float32)
    np.testing.assert_allclose(d.boxes_input.numpy() / scale, d.boxes, rtol=1e-5, atol=1e-3)
    feats, pre = detector.features(img)
    torch.testing.assert_close(feats["p3"], d.features["p3"])
    assert pre.image_size == d.pre.image_size


def test_level_assignment() -> None:
    sides = torch.tensor([16.0, 111.0, 112.0, 224.0, 447.0, 448.0, 2000.0])
    boxes = torch.stack([torch.zeros_like(sides), torch.zeros_like(sides), sides, sides], dim=1)
    # floor(4 + log2(side / 224)), clamped to [2, 5], minus 2
    assert assign_levels(boxes, 224.0, 4, 2, 5).tolist() == [0, 0, 1, 2, 2, 3, 3]
