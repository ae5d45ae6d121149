"""The models stmocap can export, each with its tensor specs and a builder.

Every model is wrapped so that ``forward`` takes its inputs positionally and returns a tuple in
output-spec order: that is what the engines and the ONNX exporter see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from stmocap.engines.artifact import sha256_file
from stmocap.engines.base import TensorSpec
from stmocap.models.blazepose.graph import LANDMARK_EMBEDDING, LANDMARK_OUTPUTS
from torch import Tensor, nn

RANDOM_SEED = 0


@dataclass(frozen=True)
class BuiltModel:
    """A module ready for export or the torch engine, and what describes it."""

    name: str
    preset: str
    module: nn.Module
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    config: dict[str, Any]
    window: int | None
    source_sha256: str
    # Value range of inputs that are images (name → (low, high)); parity checks draw uniform
    # samples there instead of N(0, 1), which would drive an image network far off its domain.
    input_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    # fp32 parity thresholds that differ from the default, per output, each with its reason.
    parity_tolerance: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    presets: tuple[str, ...]
    build: Callable[[str, Path | None], BuiltModel]


class _TemporalExport(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, feats: Tensor, pose_6d: Tensor, cam: Tensor) -> tuple[Tensor, ...]:
        out = self.net(feats, pose_6d, cam)
        r = out.refined
        return r.pose_6d, r.betas, r.cam, out.weights


def _build_temporal(preset: str, checkpoint: Path | None) -> BuiltModel:
    from stmocap.models.temporal.checkpoint import load_checkpoint
    from stmocap.models.temporal.config import PRESETS
    from stmocap.models.temporal.network import TemporalNet

    if checkpoint is not None:
        net = load_checkpoint(checkpoint)
        source = sha256_file(checkpoint)
    else:
        # Seeded, so "random weights" are the same tensors in every process and cache entry.
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            net = TemporalNet(PRESETS[preset]).eval()
        source = f"random-weights-seed{RANDOM_SEED}"
    c = net.cfg
    W = c.window
    inputs = (
        TensorSpec("feats", "float32", ("batch", W, *c.feat_shape)),
        TensorSpec("pose_6d", "float32", ("batch", W, c.pose_dim)),
        TensorSpec("cam", "float32", ("batch", W, 3)),
    )
    outputs = (
        TensorSpec("pose_6d_out", "float32", ("batch", W, c.joints, 6)),
        TensorSpec("betas", "float32", ("batch", W, c.betas)),
        TensorSpec("cam_out", "float32", ("batch", W, 3)),
        TensorSpec("weights", "float32", ("batch", W, W)),
    )
    return BuiltModel("temporal", preset, _TemporalExport(net).eval(), inputs, outputs,
                      asdict(c), W, source)


class _BodyExport(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, rotmats: Tensor, betas: Tensor, transl: Tensor) -> tuple[Tensor, Tensor]:
        out = self.body(rotmats, betas, transl)
        return out.vertices, out.joints


def _build_body(preset: str, checkpoint: Path | None) -> BuiltModel:
    from stmocap.models.body.free_body import load_body_data
    from stmocap.models.body.model import LBSBody

    data = load_body_data(checkpoint)  # None: the built-in free body
    source = sha256_file(Path(data.source))
    body = LBSBody(data)
    J, V, K = data.num_joints, data.num_vertices, body.num_betas
    inputs = (
        TensorSpec("rotmats", "float32", ("batch", J, 3, 3)),
        TensorSpec("betas", "float32", ("batch", K)),
        TensorSpec("transl", "float32", ("batch", 3)),
    )
    outputs = (
        TensorSpec("vertices", "float32", ("batch", V, 3)),
        TensorSpec("joints", "float32", ("batch", J, 3)),
    )
    cfg = {"vertices": V, "joints": J, "betas": K, "source": data.source}
    return BuiltModel("body", preset, _BodyExport(body).eval(), inputs, outputs, cfg, None, source)


class _GraphExport(nn.Module):
    # (not named ``graph``: torch.export's GraphModule uses that attribute for its FX graph)
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        return self.net(image)


def _build_blazepose(name: str, size: int, outputs: tuple[tuple[str, tuple[int, ...]], ...],
                     value_range: tuple[float, float], keep: tuple[int, ...] | None = None,
                     taps: tuple[int, ...] = (), model: str = ""
                     ) -> Callable[[str, Path | None], BuiltModel]:
    """``outputs``: names and shapes of the graph outputs kept, then of the internal tensors
    ``taps``; ``keep``: the outputs' positions among the graph's outputs (default: all of them,
    in order); ``model``: the catalogue name (default ``blazepose-<detection|landmark>``)."""

    def build(preset: str, checkpoint: Path | None) -> BuiltModel:
        from stmocap.models.blazepose.graph import load_graph

        graph = load_graph(name, checkpoint, keep, taps)
        source = sha256_file(checkpoint) if checkpoint else f"blazepose-{name}-mediapipe-0.10.21"
        inputs = (TensorSpec("image", "float32", ("batch", size, size, 3)),)
        outs = tuple(TensorSpec(n, "float32", ("batch", *shape)) for n, shape in outputs)
        config = {"graph": name, "input": [size, size, 3], **({"taps": list(taps)} if taps else {})}
        return BuiltModel(model or f"blazepose-{name.split('_')[1]}", preset,
                          _GraphExport(graph).eval(), inputs, outs, config, None, source,
                          {"image": value_range})

    return build


class _HMR2Export(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.model(image).as_tuple()


def _build_hmr2(preset: str, checkpoint: Path | None) -> BuiltModel:
    from stmocap.models.hmr2.checkpoint import load_hmr2, random_hmr2
    from stmocap.models.hmr2.config import PRESETS

    if checkpoint is not None:  # 4D-Humans' .ckpt; its model_config.yaml lies two folders up
        model, _ = load_hmr2(checkpoint, strict=True)
        source = sha256_file(checkpoint)
    else:
        model = random_hmr2(PRESETS[preset], RANDOM_SEED)
        source = f"random-weights-seed{RANDOM_SEED}"
    c = model.cfg
    inputs = (TensorSpec("image", "float32", ("batch", 3, c.image_height, c.image_width)),)
    outputs = (
        TensorSpec("rotmats", "float32", ("batch", c.joints, 3, 3)),
        TensorSpec("betas", "float32", ("batch", c.betas)),
        TensorSpec("cam", "float32", ("batch", 3)),
    )
    # ImageNet-normalised RGB: (0 - 0.485) / 0.229 .. (1 - 0.406) / 0.225.
    return BuiltModel("hmr2", preset, _HMR2Export(model).eval(), inputs, outputs, asdict(c), None,
                      source, {"image": (-2.12, 2.64)})
# Padded network-input size per preset (static; batch is dynamic): a 4:3 frame at the preset's
# shortest edge (tiny 128 → 128×171, full 800 → 800×1067), padded to a multiple of 32.
_CSE_INPUT = {"tiny": (128, 192), "R_50_FPN": (800, 1088), "R_101_FPN": (800, 1088)}


class _PyramidExport(nn.Module):
    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        p = self.backbone(image)
        return p["p2"], p["p3"], p["p4"], p["p5"], p["p6"]


def _faster_rcnn(preset: str, checkpoint: Path | None) -> tuple[nn.Module, Any, str]:
    """The DensePose-CSE checkpoint's Faster R-CNN stage at ``preset`` (seeded random weights, or
    loaded from the model-zoo ``.pkl``), its config and the weights' source for the metadata."""
    from stmocap.models.detectron.checkpoint import load_pkl
    from stmocap.models.detectron.config import PRESETS
    from stmocap.models.detectron.detector import FasterRCNN

    cfg = PRESETS[preset]
    with torch.random.fork_rng():
        torch.manual_seed(RANDOM_SEED)
        model = FasterRCNN(cfg).eval()
    if checkpoint is None:
        return model, cfg, f"random-weights-seed{RANDOM_SEED}"
    load_pkl(model, checkpoint)
    return model, cfg, sha256_file(checkpoint)


def _build_cse_backbone(preset: str, checkpoint: Path | None) -> BuiltModel:
    """DensePose-CSE's ResNet-FPN: normalised, padded BGR image → p2..p6 (RPN/ROI stay in torch)."""
    model, cfg, source = _faster_rcnn(preset, checkpoint)
    H, W = _CSE_INPUT[preset]
    C = cfg.fpn_channels
    inputs = (TensorSpec("image", "float32", ("batch", 3, H, W)),)
    outputs = tuple(TensorSpec(f"p{k}", "float32", ("batch", C, -(-H // 2**k), -(-W // 2**k)))
                    for k in range(2, 7))
    config = {"preset": preset, "input": [3, H, W], "blocks": list(cfg.blocks), "fpn_channels": C}
    # Pixel values minus the BGR mean (std 1): about [-124, 152].
    return BuiltModel("cse-backbone", preset, _PyramidExport(model.backbone).eval(), inputs, outputs,
                      config, None, source, {"image": (-124.0, 152.0)})


class _DetectorHeadsExport(nn.Module):
    """The Faster R-CNN stage's learned layers: the RPN head on every level and the box head on
    pooled proposals. Anchors, top-k, NMS and ROI pooling stay in torch (data-dependent)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.rpn_head = model.proposal_generator.rpn_head
        self.box_head = model.roi_heads.box_head
        self.box_predictor = model.roi_heads.box_predictor

    def forward(self, p2: Tensor, p3: Tensor, p4: Tensor, p5: Tensor, p6: Tensor, pooled: Tensor
                ) -> tuple[Tensor, ...]:
        rpn = [t for p in (p2, p3, p4, p5, p6) for t in self.rpn_head(p)]
        return (*rpn, *self.box_predictor(self.box_head(pooled)))


def _build_cse_detector_heads(preset: str, checkpoint: Path | None) -> BuiltModel:
    """DensePose-CSE's RPN head (p2..p6 → objectness, deltas per level) and box head (pooled 7×7
    proposals → class logits, box deltas), at the same static sizes as ``cse-backbone``."""
    model, cfg, source = _faster_rcnn(preset, checkpoint)
    H, W = _CSE_INPUT[preset]
    C, A, R = cfg.fpn_channels, len(cfg.aspect_ratios), cfg.pooler_resolution
    levels = [(f"p{k}", -(-H // 2**k), -(-W // 2**k)) for k in range(2, 7)]
    inputs = (*(TensorSpec(n, "float32", ("batch", C, h, w)) for n, h, w in levels),
              TensorSpec("pooled", "float32", ("boxes", C, R, R)))
    outputs = tuple(spec for n, h, w in levels for spec in (
        TensorSpec(f"objectness_{n}", "float32", ("batch", A, h, w)),
        TensorSpec(f"deltas_{n}", "float32", ("batch", 4 * A, h, w))))
    outputs += (TensorSpec("class_logits", "float32", ("boxes", cfg.num_classes + 1)),
                TensorSpec("box_deltas", "float32", ("boxes", 4 * cfg.num_classes)))
    config = {"preset": preset, "input": [3, H, W], "fpn_channels": C, "pooler": R}
    return BuiltModel("cse-detector-heads", preset, _DetectorHeadsExport(model).eval(), inputs,
                      outputs, config, None, source)


class _CSEHeadExport(nn.Module):
    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, p2: Tensor, p3: Tensor, p4: Tensor, p5: Tensor, rois: Tensor
                ) -> tuple[Tensor, Tensor]:
        return self.head({"p2": p2, "p3": p3, "p4": p4, "p5": p5}, rois)


def _build_cse_head(preset: str, checkpoint: Path | None) -> BuiltModel:
    from stmocap.models.densepose.checkpoint import load_cse_checkpoint
    from stmocap.models.densepose.config import PRESETS
    from stmocap.models.densepose.model import DensePoseHead

    cfg = PRESETS[preset]
    if checkpoint is not None:
        head = load_cse_checkpoint(checkpoint, base=cfg).head
        source = sha256_file(checkpoint)
    else:
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            head = DensePoseHead(cfg).eval()
        source = f"random-weights-seed{RANDOM_SEED}"
    c = head.cfg
    if c.in_features != ("p2", "p3", "p4", "p5"):
        raise ValueError(f"the cse-head export takes p2..p5, not {c.in_features}")
    S = c.heatmap_size
    inputs = (*(TensorSpec(k, "float32", ("batch", *c.level_shape(k, cfg.export_image)))
                for k in c.in_features),
              TensorSpec("rois", "float32", ("boxes", 5)))
    outputs = (TensorSpec("embedding", "float32", ("boxes", c.embed_size, S, S)),
               TensorSpec("coarse_segm", "float32", ("boxes", c.coarse_segm_channels, S, S)))
    # Random rois must name image 0 (batch index = int(u) for u in [0, 1)): such boxes lie within
    # the first input pixel, which still exercises every sample and border rule of ROIAlign.
    return BuiltModel("cse-head", preset, _CSEHeadExport(head).eval(), inputs, outputs,
                      {**asdict(c), "export_image": list(cfg.export_image)}, None, source,
                      {"rois": (0.0, 1.0)})


CATALOG: dict[str, CatalogEntry] = {
    "temporal": CatalogEntry("temporal", "the paper's STA + regressor + LSTM network",
                             ("tiny", "full", "lite"), _build_temporal),
    "body": CatalogEntry("body", "SMPL-format body forward (LBS): vertices and joints",
                         ("default",), _build_body),
    "hmr2": CatalogEntry("hmr2", "HMR2.0 (4D-Humans): 256×192 person crop → SMPL rotmats, betas, crop cam",
                         ("tiny", "full"), _build_hmr2),
    "blazepose-detection": CatalogEntry(
        "blazepose-detection", "BlazePose person detector (224×224 RGB in [-1, 1])", ("full",),
        _build_blazepose("pose_detection", 224, (("boxes", (2254, 12)), ("scores", (2254, 1))),
                         (-1.0, 1.0))),
    "blazepose-landmark": CatalogEntry(
        "blazepose-landmark", "BlazePose-GHUM full landmark model (256×256 RGB in [0, 1])", ("full",),
        # Without the person segmentation (graph output 2): stmocap does not use it, and its
        # 256×256 decoder is half the model's cost (ONNX Runtime, 2 cores: 22.6 → 11.3 ms).
        _build_blazepose("pose_landmark_full", 256, (
            ("landmarks", (195,)), ("pose_flag", (1,)), ("heatmap", (64, 64, 39)),
            ("world_landmarks", (117,))), (0.0, 1.0), LANDMARK_OUTPUTS)),
    "blazepose-landmark-embedding": CatalogEntry(
        "blazepose-landmark-embedding", "the BlazePose landmark model that also returns its last "
        "shared feature map (2×2×288, what every head reads; lite --landmark-embedding)", ("full",),
        _build_blazepose("pose_landmark_full", 256, (
            ("landmarks", (195,)), ("pose_flag", (1,)), ("heatmap", (64, 64, 39)),
            ("world_landmarks", (117,)), ("embedding", (2, 2, 288))), (0.0, 1.0),
            LANDMARK_OUTPUTS, (LANDMARK_EMBEDDING,), "blazepose-landmark-embedding")),
    "cse-backbone": CatalogEntry(
        "cse-backbone", "DensePose-CSE ResNet-FPN backbone: padded normalised BGR image → p2..p6",
        ("tiny", "R_50_FPN", "R_101_FPN"), _build_cse_backbone),
    "cse-detector-heads": CatalogEntry(
        "cse-detector-heads", "DensePose-CSE Faster R-CNN heads: RPN on p2..p6, box head on pooled "
        "proposals (anchors, NMS and pooling stay in torch)", ("tiny", "R_50_FPN", "R_101_FPN"),
        _build_cse_detector_heads),
    "cse-head": CatalogEntry(
        "cse-head", "DensePose-CSE ROI head: FPN p2..p5 + boxes [b, x0, y0, x1, y1] -> 16x112x112 "
        "embedding and coarse segmentation", ("tiny", "R_50_FPN_s1x", "R_101_FPN_DL_soft_s1x"),
        _build_cse_head),
}


def build_model(name: str, preset: str | None = None, checkpoint: Path | None = None) -> BuiltModel:
    """Build catalogue model ``name`` at ``preset`` (default: its first), optionally from weights."""
    if name not in CATALOG:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(CATALOG)}")
    entry = CATALOG[name]
    preset = preset or entry.presets[0]
    if preset not in entry.presets:
        raise ValueError(f"model {name!r} has presets {list(entry.presets)}, not {preset!r}")
    return entry.build(preset, checkpoint)
