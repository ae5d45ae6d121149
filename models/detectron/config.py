"""Frozen configuration of the detectron2-style Faster R-CNN person detector.

Defaults are those detectron2 (02b5c4e) resolves for the DensePose CSE configs
(``Base-DensePose-RCNN-FPN.yaml`` over ``config/defaults.py``) at TEST time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

DEPTH_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


@dataclass(frozen=True)
class DetectronConfig:
    # ResNet (MSRA layout: the stride sits in the first 1×1 conv of a bottleneck)
    blocks: tuple[int, int, int, int] = DEPTH_BLOCKS[50]
    stem_channels: int = 64
    res2_channels: int = 256          # output channels of res2, doubled per stage
    bottleneck_channels: int = 64     # inner width of res2 (num_groups × width_per_group)
    stride_in_1x1: bool = True
    bn_eps: float = 1e-5
    # FPN
    fpn_channels: int = 256
    # Anchors (one size per level p2..p6) and RPN
    anchor_sizes: tuple[float, ...] = (32.0, 64.0, 128.0, 256.0, 512.0)
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    anchor_offset: float = 0.0
    rpn_pre_nms_topk: int = 1000      # per level, TEST
    rpn_post_nms_topk: int = 1000     # per image, TEST
    rpn_nms_thresh: float = 0.7
    rpn_min_size: float = 0.0
    # Box head
    pooler_resolution: int = 7
    pooler_sampling_ratio: int = 2
    pooler_aligned: bool = False      # POOLER_TYPE "ROIAlign" (not ROIAlignV2)
    canonical_box_size: float = 224.0
    canonical_level: int = 4
    fc_dim: int = 1024
    num_fc: int = 2
    num_classes: int = 1              # person; background is the last logit
    box_reg_weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)
    score_thresh: float = 0.05
    nms_thresh: float = 0.5
    detections_per_image: int = 100
    # Input (BGR, std 1, resize shortest edge, pad to a multiple of 32 with 0 after normalising)
    pixel_mean: tuple[float, float, float] = (103.53, 116.28, 123.675)
    pixel_std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    min_size_test: int = 800
    max_size_test: int = 1333
    size_divisibility: int = 32

    def __post_init__(self) -> None:
        if len(self.anchor_sizes) != 5:
            raise ValueError(f"anchor_sizes needs one size per level p2..p6, got {self.anchor_sizes}")
        if self.num_fc < 1:
            raise ValueError("num_fc must be >= 1")

    @property
    def stage_channels(self) -> tuple[int, int, int, int]:
        """Output channels of res2..res5."""
        return tuple(self.res2_channels * 2**i for i in range(4))  # type: ignore[return-value]

    def with_input_size(self, min_size: int, max_size: int | None = None) -> DetectronConfig:
        """The same model at another test resolution (shortest edge ``min_size``)."""
        return replace(self, min_size_test=min_size,
                       max_size_test=self.max_size_test if max_size is None else max_size)


R_50_FPN = DetectronConfig()
R_101_FPN = DetectronConfig(blocks=DEPTH_BLOCKS[101])
# A few channels and one block per stage: for tests only (the topology of the full model).
TINY = DetectronConfig(blocks=(1, 1, 1, 1), stem_channels=8, res2_channels=16, bottleneck_channels=4,
                       fpn_channels=16, fc_dim=32, rpn_pre_nms_topk=200, rpn_post_nms_topk=100,
                       min_size_test=128, max_size_test=224)

PRESETS: dict[str, DetectronConfig] = {"tiny": TINY, "R_50_FPN": R_50_FPN, "R_101_FPN": R_101_FPN}
