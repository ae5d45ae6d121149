"""Shapes and parameter names of the tiny model (the full model's topology, few channels)."""

from __future__ import annotations

import torch
from stmocap.models.detectron.config import PRESETS, TINY
from stmocap.models.detectron.detector import FasterRCNN
from stmocap.models.detectron.fpn import ResNetFPN
from stmocap.models.detectron.resnet import FrozenBatchNorm2d, ResNet


def test_resnet_and_fpn_shapes() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 96, 128)
    res = ResNet(TINY).eval()(x)
    for k, (c, s) in zip(("res2", "res3", "res4", "res5"), zip(TINY.stage_channels, (4, 8, 16, 32),
                                                               strict=True), strict=True):
        assert res[k].shape == (2, c, 96 // s, 128 // s)
    p = ResNetFPN(TINY).eval()(x)
    for k, s in zip(("p2", "p3", "p4", "p5", "p6"), (4, 8, 16, 32, 64), strict=True):
        assert p[k].shape == (2, TINY.fpn_channels, -(-96 // s), 128 // s)


def test_frozen_bn_is_affine_with_fixed_stats() -> None:
    bn = FrozenBatchNorm2d(3)
    bn.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
    bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    bn.running_mean.copy_(torch.tensor([1.0, 0.0, 2.0]))
    bn.running_var.copy_(torch.tensor([4.0, 1.0, 0.25]) - bn.eps)
    y = bn(torch.ones(1, 3, 1, 1)).flatten()
    torch.testing.assert_close(y, torch.tensor([0.0, 3.0, -7.0]))
    assert {n for n, _ in bn.named_buffers()} == {"weight", "bias", "running_mean", "running_var"}


def test_state_dict_names_are_detectron2s() -> None:
    names = set(FasterRCNN(TINY).state_dict())
    for key in ("backbone.bottom_up.stem.conv1.weight", "backbone.bottom_up.stem.conv1.norm.running_var",
                "backbone.bottom_up.res2.0.shortcut.weight", "backbone.bottom_up.res3.0.conv1.norm.bias",
                "backbone.bottom_up.res5.0.conv3.weight", "backbone.fpn_lateral2.weight",
                "backbone.fpn_output5.bias", "proposal_generator.rpn_head.conv.weight",
                "proposal_generator.rpn_head.objectness_logits.weight",
                "proposal_generator.rpn_head.anchor_deltas.bias", "roi_heads.box_head.fc1.weight",
                "roi_heads.box_head.fc2.bias", "roi_heads.box_predictor.cls_score.weight",
                "roi_heads.box_predictor.bbox_pred.weight"):
        assert key in names, key
    assert not any(".num_batches_tracked" in n for n in names)


def test_full_presets_layout_without_building() -> None:
    assert PRESETS["R_50_FPN"].blocks == (3, 4, 6, 3)
    assert PRESETS["R_101_FPN"].blocks == (3, 4, 23, 3)
    assert PRESETS["R_50_FPN"].stage_channels == (256, 512, 1024, 2048)
    assert list(PRESETS) == ["tiny", "R_50_FPN", "R_101_FPN"]
