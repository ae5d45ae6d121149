"""The DensePose-CSE ROI head: FPN maps + person boxes → per-box surface embeddings.

``DensePoseHead`` = :class:`CSEDecoder` (p2..p5 → one stride-4 map) → ROIAlign (one level, scale
1/4) → :func:`build_head` (V1ConvX or DeepLab) → :class:`CSEPredictor`. Submodule names are
detectron2's ``roi_heads.*`` names without the prefix (``decoder``, ``densepose_head``,
``densepose_predictor``), so a model-zoo checkpoint maps on by name. The vertex embedder is a
separate module (:class:`stmocap.models.densepose.embedder.VertexEmbedder`): it does not depend on
the image, and keeping it out of the head keeps its 27554×256 basis out of the exported graph.
"""

from __future__ import annotations

from collections.abc import Mapping

from stmocap.models.densepose.config import CSEHeadConfig
from stmocap.models.densepose.decoder import CSEDecoder
from stmocap.models.densepose.head import build_head
from stmocap.models.densepose.predictor import CSEPredictor
from stmocap.models.detectron.roi_align import roi_align
from torch import Tensor, nn


class DensePoseHead(nn.Module):
    """FPN levels and boxes → ``(embedding (K, D, 112, 112), coarse_segm (K, 2, 112, 112))``.

    Frames: ``fpn[level]`` is ``(B, C, H/s, W/s)`` for the padded, resized network input of size
    ``(H, W)`` (detectron2: short side 800, padded to a multiple of 32); ``rois`` is ``(K, 5)`` rows
    ``[batch_index, x0, y0, x1, y1]`` in pixels of that same network input (not of the camera
    frame: scale camera boxes by the resize factor first). Outputs are box-relative grids (see
    :class:`CSEPredictor`), box k's row k.
    """

    def __init__(self, cfg: CSEHeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.decoder = CSEDecoder(cfg)
        self.densepose_head = build_head(cfg)
        self.densepose_predictor = CSEPredictor(cfg)

    def decode(self, fpn: Mapping[str, Tensor]) -> Tensor:
        """``(B, decoder_out, H/4, W/4)`` decoder map of the FPN levels."""
        missing = [k for k in self.cfg.in_features if k not in fpn]
        if missing:
            raise ValueError(f"FPN features lack levels {missing}; need {list(self.cfg.in_features)}")
        return self.decoder([fpn[k] for k in self.cfg.in_features])

    def pool(self, decoded: Tensor, rois: Tensor) -> Tensor:
        """``(K, decoder_out, R, R)`` ROIAlign of the decoder map inside each box."""
        c = self.cfg
        R = c.pooler_resolution
        return roi_align(decoded, rois, (R, R), c.pooler_scale, c.sampling_ratio, c.aligned)

    def forward(self, fpn: Mapping[str, Tensor], rois: Tensor) -> tuple[Tensor, Tensor]:
        features = self.densepose_head(self.pool(self.decode(fpn), rois))
        return self.densepose_predictor(features)
