"""DensePoseHead shapes, stage contracts and the DeepLab dilation shortcut, on tiny configs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from stmocap.models.densepose.config import PRESETS, TINY, CSEHeadConfig
from stmocap.models.densepose.head import ASPP, DeepLabHead, V1ConvXHead
from stmocap.models.densepose.model import DensePoseHead
from stmocap.models.detectron.roi_align import roi_align


def _fpn(cfg: CSEHeadConfig, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(batch, *cfg.level_shape(k), generator=g) for k in cfg.in_features}


@pytest.mark.parametrize("kind", ["deeplab", "v1convx"])
def test_tiny_shapes_and_box_independence(kind: str) -> None:
    cfg = replace(TINY, head=kind)
    torch.manual_seed(0)
    head = DensePoseHead(cfg).eval()
    assert isinstance(head.densepose_head, DeepLabHead if kind == "deeplab" else V1ConvXHead)
    fpn = _fpn(cfg, batch=2)
    rois = torch.tensor([[0, 4.0, 6.0, 40.0, 60.0], [1, 10.0, 0.0, 90.0, 30.0], [1, 0.0, 0.0, 5.0, 5.0]])
    with torch.no_grad():
        emb, segm = head(fpn, rois)
        S = cfg.heatmap_size
        assert emb.shape == (3, cfg.embed_size, S, S) and segm.shape == (3, 2, S, S)
        assert 4 * cfg.pooler_resolution == S
        # Each box's output depends only on its own box and image: one box at a time agrees.
        one, _ = head(fpn, rois[1:2])
        torch.testing.assert_close(one[0], emb[1], rtol=1e-5, atol=1e-6)
        empty, segm0 = head(fpn, rois[:0])
        assert empty.shape == (0, cfg.embed_size, S, S) and segm0.shape == (0, 2, S, S)


def test_stages_compose_to_forward() -> None:
    torch.manual_seed(1)
    head = DensePoseHead(TINY).eval()
    fpn = _fpn(TINY)
    rois = torch.tensor([[0, 8.0, 8.0, 50.0, 60.0]])
    with torch.no_grad():
        decoded = head.decode(fpn)
        H, W = TINY.export_image
        assert decoded.shape == (1, TINY.decoder_out, H // 4, W // 4)
        pooled = head.pool(decoded, rois)
        R = TINY.pooler_resolution
        torch.testing.assert_close(pooled, roi_align(decoded, rois, (R, R), 0.25, 2, False))
        want = head.densepose_predictor(head.densepose_head(pooled))
        got = head(fpn, rois)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


def test_missing_level_is_named() -> None:
    head = DensePoseHead(TINY)
    fpn = _fpn(TINY)
    del fpn["p4"]
    with pytest.raises(ValueError, match=r"lack levels \['p4'\]"):
        head(fpn, torch.zeros(1, 5))


def test_large_dilation_shortcut_equals_full_convolution() -> None:
    # Dilation 56 on a 7x7 box: the centre-tap shortcut must equal the zero-padded 3x3 conv.
    torch.manual_seed(2)
    aspp = ASPP(64, (2, 6, 56)).eval()
    x = torch.randn(3, 64, 7, 7)
    with torch.no_grad():
        got = aspp(x)
        branches = []
        for i, branch in enumerate(aspp.convs):
            if i in (1, 2, 3):
                y = branch[2](branch[1](branch[0](x)))  # the plain nn.Conv2d, no shortcut
            elif i == 4:
                y = branch[3](branch[2](branch[1](F.adaptive_avg_pool2d(x, 1))))
                y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
            else:
                y = branch(x)
            branches.append(y)
        want = aspp.project(torch.cat(branches, dim=1))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_presets_follow_the_model_zoo_configs() -> None:
    r50, r101 = PRESETS["R_50_FPN_s1x"], PRESETS["R_101_FPN_DL_soft_s1x"]
    assert next(iter(PRESETS)) == "tiny"
    assert (r50.head, r101.head) == ("v1convx", "deeplab")
    for c in (r50, r101):
        sizes = (c.num_convs, c.head_dim, c.kernel, c.pooler_resolution, c.heatmap_size)
        assert sizes == (8, 512, 3, 28, 112)
        assert (c.sampling_ratio, c.aligned, c.embed_size, c.pooler_scale) == (2, False, 16, 0.25)
        assert (c.decoder_norm, c.deeplab_norm, c.aspp_dilations) == ("", "GN", (6, 12, 56))
        assert (c.num_vertices, c.vertex_feature_dim) == (27554, 256)
        assert c.level_shape("p2") == (256, 200, 272) and c.level_shape("p5") == (256, 25, 34)


@pytest.mark.parametrize(("change", "message"), [
    ({"kernel": 4}, "kernel must be odd"),
    ({"in_strides": (8, 16, 32, 64)}, "must be the decoder stride"),
    ({"in_strides": (4, 12, 16, 32)}, "power of 2"),
    ({"head_dim": 48}, "multiple of 32"),
    ({"decoder_out": 32}, "2 values per group"),
    ({"export_image": (64, 100)}, "multiples of 32"),
])
def test_config_validation(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(TINY, **change)
