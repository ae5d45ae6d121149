"""Sizes and choices of the DensePose-CSE ROI head, with presets for the model-zoo configs.

The field defaults are detectron2 DensePose's config defaults as the CSE configs use them
(``configs/cse/Base-DensePose-RCNN-FPN*.yaml``): decoder on, 8 stacked 3×3 convs of width 512,
ROIAlign 28×28 at stride 4 with ``aligned=False`` (``POOLER_TYPE: "ROIAlign"``) and sampling ratio
2, transposed conv k4 s2 then bilinear ×2 to 112×112, 16-dimensional embeddings, vertex embeddings
of the ``smpl_27554`` mesh from a 256-dimensional feature basis. All CSE configs run the decoder,
so the head always pools one level (the decoder output); the DeepLab configs leave the non-local
block off (``DEEPLAB.NONLOCAL_ON: 0``), so it is not built.

Presets: ``R_50_FPN_s1x`` (V1ConvX head), ``R_101_FPN_DL_soft_s1x`` (DeepLab head: ASPP + GroupNorm;
the paper's CSE model), and ``tiny`` (DeepLab layout, narrow, for tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from stmocap.validate import AT_LEAST_ONE

HeadKind = Literal["v1convx", "deeplab"]
NormKind = Literal["", "GN"]

GN_GROUPS = 32  # every GroupNorm in detectron2's DensePose head and decoder has 32 groups


@dataclass(frozen=True)
class CSEHeadConfig:
    """One DensePose-CSE ROI head: decoder → ROIAlign → head → CSE predictor, plus the embedder."""

    head: HeadKind = field(default="v1convx", metadata={
        "help": "v1convx (stacked conv + ReLU) or deeplab (ASPP, then stacked conv + norm + ReLU)"})
    in_features: tuple[str, ...] = field(default=("p2", "p3", "p4", "p5"), metadata={
        "help": "FPN levels the decoder reads, finest first"})
    in_strides: tuple[int, ...] = field(default=(4, 8, 16, 32), metadata={
        "help": "stride in input pixels of each level of in_features"})
    in_channels: int = field(default=256, metadata={"check": AT_LEAST_ONE, "help": "FPN channels"})
    decoder_channels: int = field(default=256, metadata={"check": AT_LEAST_ONE,
        "help": "width of the decoder's per-level convs (DECODER_CONV_DIMS)"})
    decoder_out: int = field(default=256, metadata={"check": AT_LEAST_ONE,
        "help": "channels of the decoder output map (DECODER_NUM_CLASSES)"})
    decoder_norm: NormKind = field(default="", metadata={
        "help": "norm of the decoder convs: none (convs with bias) or GN (convs without bias)"})
    decoder_stride: int = field(default=4, metadata={"check": AT_LEAST_ONE,
        "help": "stride of the decoder output map (DECODER_COMMON_STRIDE)"})
    num_convs: int = field(default=8, metadata={"check": AT_LEAST_ONE,
        "help": "stacked convs of the head (NUM_STACKED_CONVS)"})
    head_dim: int = field(default=512, metadata={"check": AT_LEAST_ONE,
        "help": "width of the stacked convs (CONV_HEAD_DIM)"})
    kernel: int = field(default=3, metadata={"check": AT_LEAST_ONE,
        "help": "kernel of the stacked convs (odd; CONV_HEAD_KERNEL)"})
    deeplab_norm: NormKind = field(default="GN", metadata={
        "help": "norm of the DeepLab head's stacked convs (DEEPLAB.NORM)"})
    aspp_dilations: tuple[int, int, int] = field(default=(6, 12, 56), metadata={
        "help": "dilations of the three 3x3 ASPP branches"})
    pooler_resolution: int = field(default=28, metadata={"check": AT_LEAST_ONE,
        "help": "ROIAlign output side (POOLER_RESOLUTION)"})
    sampling_ratio: int = field(default=2, metadata={
        "help": "ROIAlign samples per bin and axis; <= 0: adaptive (not exportable)"})
    aligned: bool = field(default=False, metadata={
        "help": "ROIAlignV2 (half-pixel shift) instead of the legacy ROIAlign the CSE configs use"})
    deconv_kernel: int = field(default=4, metadata={"check": AT_LEAST_ONE,
        "help": "kernel of the predictor's stride-2 transposed convs (DECONV_KERNEL, even)"})
    up_scale: int = field(default=2, metadata={"check": AT_LEAST_ONE,
        "help": "bilinear up-scaling after the transposed convs (UP_SCALE)"})
    embed_size: int = field(default=16, metadata={"check": AT_LEAST_ONE,
        "help": "dimension D of the continuous surface embedding (CSE.EMBED_SIZE)"})
    coarse_segm_channels: int = field(default=2, metadata={"check": AT_LEAST_ONE,
        "help": "coarse segmentation channels, background first (NUM_COARSE_SEGM_CHANNELS)"})
    mesh: str = field(default="smpl_27554", metadata={"help": "mesh of the vertex embedder"})
    num_vertices: int = field(default=27554, metadata={"check": AT_LEAST_ONE,
        "help": "vertices of the mesh"})
    vertex_feature_dim: int = field(default=256, metadata={"check": AT_LEAST_ONE,
        "help": "width of the frozen per-vertex feature basis (Laplace-Beltrami eigenfunctions)"})
    export_image: tuple[int, int] = field(default=(800, 1088), metadata={
        "help": "padded network-input size (H, W) whose FPN maps the ONNX export takes: a 640x480 "
                "frame at detectron2's 800 short side (800x1067, padded to a multiple of 32)"})

    def __post_init__(self) -> None:
        if len(self.in_features) != len(self.in_strides) or not self.in_features:
            raise ValueError("in_features and in_strides must be non-empty and of equal length")
        if self.in_strides[0] != self.decoder_stride:
            raise ValueError(f"the finest level's stride {self.in_strides[0]} must be the decoder "
                             f"stride {self.decoder_stride} (the pooler scale is 1/stride of it)")
        for s in self.in_strides:
            if s < self.decoder_stride or not math.log2(s / self.decoder_stride).is_integer():
                raise ValueError(f"stride {s} is not the decoder stride times a power of 2")
        if self.kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, got {self.kernel}")
        if self.deconv_kernel % 2 != 0:
            raise ValueError(f"deconv_kernel must be even (padding k/2 - 1), got {self.deconv_kernel}")
        groups = {"decoder_channels": self.decoder_channels if self.decoder_norm else 0,
                  "head_dim": self.head_dim if self.head == "deeplab" and self.deeplab_norm else 0,
                  "decoder_out": self.decoder_out if self.head == "deeplab" else 0}
        for name, width in groups.items():
            if width % GN_GROUPS:
                raise ValueError(f"{name} {width} must be a multiple of {GN_GROUPS} for GroupNorm")
        if self.head == "deeplab" and self.decoder_out < 2 * GN_GROUPS:
            raise ValueError(f"decoder_out {self.decoder_out} must be >= {2 * GN_GROUPS}: the ASPP "
                             "image-pooling GroupNorm needs 2 values per group on its 1x1 map")
        if any(s % 32 for s in self.export_image):
            raise ValueError(f"export_image {self.export_image} must be multiples of 32")

    @property
    def pooler_scale(self) -> float:
        """Feature cells per input pixel of the pooled map (1/4 for the decoder at stride 4)."""
        return 1.0 / self.in_strides[0]

    @property
    def heatmap_size(self) -> int:
        """Side of the predictor outputs: pooler × 2 (transposed conv) × up_scale (112)."""
        return self.pooler_resolution * 2 * self.up_scale

    def level_shape(self, level: str, image: tuple[int, int] | None = None) -> tuple[int, int, int]:
        """``(C, H/s, W/s)`` of FPN level ``level`` for a padded input ``image`` (default export)."""
        h, w = image or self.export_image
        s = self.in_strides[self.in_features.index(level)]
        return (self.in_channels, h // s, w // s)


R_50_FPN_S1X = CSEHeadConfig()
R_101_FPN_DL_SOFT_S1X = replace(R_50_FPN_S1X, head="deeplab")
TINY = replace(
    R_101_FPN_DL_SOFT_S1X,
    in_channels=64, decoder_channels=32, decoder_out=64, num_convs=2, head_dim=32,
    pooler_resolution=7, num_vertices=50, vertex_feature_dim=8, export_image=(64, 96),
)

PRESETS: dict[str, CSEHeadConfig] = {
    "tiny": TINY,
    "R_50_FPN_s1x": R_50_FPN_S1X,
    "R_101_FPN_DL_soft_s1x": R_101_FPN_DL_SOFT_S1X,
}
