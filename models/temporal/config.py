"""Sizes of the temporal network (paper §3.2–3.3): presets ``full``, ``lite``, ``tiny`` and ``tiny_vector``.

``full`` is the paper's network on DensePose-CSE maps ``H (16, 112, 112)``. ``lite`` is the same
architecture for the lite profile: H is a vector of BlazePose features per frame (33 landmarks ×
(x, y, z, visibility) + 33 world points × 3 = 231 values) lifted by an MLP Γ3, every width narrowed
so one 16-frame window runs in a few milliseconds on 2 CPU cores. ``tiny`` and ``tiny_vector``
only narrow the widths further so tests run in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from stmocap.validate import AT_LEAST_ONE, POSITIVE, Range

Gamma3Kind = Literal["conv", "pooled_linear", "linear", "mlp"]
NSSMKind = Literal["cosine", "dot"]
RegressorStart = Literal["mean", "input", "aggregated"]


@dataclass(frozen=True)
class TemporalNetConfig:
    """Layer sizes and choices of the STA + regressor + LSTM network."""

    window: int = field(default=16, metadata={"check": AT_LEAST_ONE, "help": "frames per window W"})
    joints: int = field(default=24, metadata={"check": AT_LEAST_ONE,
        "help": "SMPL joints incl. root (pose = joints x 6D)"})
    betas: int = field(default=10, metadata={"check": AT_LEAST_ONE,
        "help": "shape coefficients"})
    feat_channels: int = field(default=16, metadata={"check": AT_LEAST_ONE,
        "help": "channels of H (CSE embedding size); with gamma3=mlp, the width of the H vector"})
    feat_size: int = field(default=112, metadata={"check": AT_LEAST_ONE,
        "help": "height = width of H (unused with gamma3=mlp)"})
    feat_dim: int = field(default=2048, metadata={"check": AT_LEAST_ONE,
        "help": "width of the lifted features (Γ3 output)"})
    pose_lift: int = field(default=512, metadata={"check": AT_LEAST_ONE, "help": "width of Γ1 (pose lift)"})
    cam_lift: int = field(default=512, metadata={"check": AT_LEAST_ONE, "help": "width of Γ2 (camera lift)"})
    attn_dim: int = field(default=1024, metadata={"check": AT_LEAST_ONE,
        "help": "width of Φ3/Φ4/Φ5 (feature attention)"})
    cam_attn_dim: int = field(default=256, metadata={"check": AT_LEAST_ONE,
        "help": "width of Φ1/Φ2 (camera attention)"})
    gamma3: Gamma3Kind = field(
        default="conv",
        metadata={"help": "Γ3 on H: conv encoder, pooled_linear, linear (paper-literal, 411M), or "
                          "mlp on a per-frame feature vector (lite profile: BlazePose features)"},
    )
    gamma3_hidden: tuple[int, ...] = field(
        default=(256,),
        metadata={"help": "hidden widths of the mlp Γ3 (LayerNorm + ReLU after each)"},
    )
    gamma3_channels: tuple[int, ...] = field(
        default=(32, 64, 128, 128),
        metadata={"check": AT_LEAST_ONE, "help": "channels of the stride-2 conv stages of the conv Γ3"},
    )
    gamma3_pool: int = field(default=14, metadata={"check": AT_LEAST_ONE,
        "help": "pooled side for pooled_linear Γ3"})
    nssm: NSSMKind = field(
        default="cosine",
        metadata={"help": "NSSM similarity: cosine (L2-normalised) or dot (MPS-Net code)"},
    )
    nssm_temperature: float = field(
        default=0.1, metadata={"check": POSITIVE, "help": "softmax temperature of cosine NSSMs"}
    )
    regressor_hidden: int = field(default=1024, metadata={"check": AT_LEAST_ONE,
        "help": "width of the regressor g"})
    regressor_iterations: int = field(default=3, metadata={"check": AT_LEAST_ONE,
        "help": "IEF iterations of g"})
    regressor_start: RegressorStart = field(default="mean", metadata={
        "help": "where g's iterations start: mean parameters (paper, SPIN), input (the per-frame "
                "Θ_init pose and ω_init camera, β from the mean) or aggregated (Θ_init and ω_init "
                "averaged over the window by the STA's fused weighting, the same W×W map that "
                "aggregates the features)"})
    dropout: float = field(default=0.5, metadata={"check": Range(0, 1),
        "help": "dropout inside the regressor g"})
    lstm_hidden: int = field(default=2048, metadata={"check": AT_LEAST_ONE,
        "help": "hidden size of the LSTM ζ"})
    lstm_layers: int = field(default=3, metadata={"check": AT_LEAST_ONE, "help": "layers of the LSTM ζ"})
    bidirectional: bool = field(
        default=False, metadata={"help": "run ζ in both directions over the window"}
    )
    sta_position_bias: bool = field(default=False, metadata={
        "help": "add a learned W×W bias (zero at the start) to the fused logits before the "
                "softmax, so the STA weighting can also depend on the frames' positions in the "
                "window (not in the paper)"})
    sta_trend: bool = field(default=False, metadata={
        "help": "add a learned W×W kernel with zero-sum rows (zero at the start) to the STA "
                "weighting after the softmax: each row is then an affine, not a convex, "
                "combination of the window's frames, so it can extrapolate a trend instead of "
                "only averaging (a causal output, lookahead 0, needs this to cut lag; not in the "
                "paper)"})
    relative_to: int = field(default=-1, metadata={
        "help": "-1: the network reads H, Θ_init and ω_init as they are (paper); k in 0..W-1: "
                "every frame's H, Θ_init, ω_init (and g's and ζ's current Θ) minus those of "
                "window position k (the served one, W-1-L), so the network sees the motion "
                "around the served frame, not the pose (needs regressor_start input or "
                "aggregated; docs/training.md)"})

    def __post_init__(self) -> None:
        if self.window < 1 or self.joints < 1 or self.regressor_iterations < 1:
            raise ValueError("window, joints and regressor_iterations must be >= 1")
        if not -1 <= self.relative_to < self.window:
            raise ValueError(f"relative_to must be -1 or a window position 0..{self.window - 1}, "
                             f"got {self.relative_to}")
        if self.relative_to >= 0 and self.regressor_start == "mean":
            raise ValueError("relative_to needs regressor_start input or aggregated: relative "
                             "inputs carry no absolute pose for g to start from")
        if self.gamma3 == "conv":
            side = self.feat_size
            for _ in self.gamma3_channels:
                side = (side + 1) // 2
            if side < 1:
                raise ValueError(f"feat_size {self.feat_size} is too small for the conv Γ3")

    @property
    def vector_features(self) -> bool:
        """True when H is one vector per frame (``gamma3 = "mlp"``), not a feature map."""
        return self.gamma3 == "mlp"

    @property
    def feat_shape(self) -> tuple[int, ...]:
        """Per-frame shape of H: ``(C,)`` for vector features, else ``(C, S, S)``."""
        if self.vector_features:
            return (self.feat_channels,)
        return (self.feat_channels, self.feat_size, self.feat_size)

    @property
    def pose_dim(self) -> int:
        """Flattened 6D pose width, ``joints × 6`` (144 for SMPL)."""
        return self.joints * 6

    @property
    def param_dim(self) -> int:
        """Width of Θ in 6D form: pose ‖ β ‖ camera (157 for SMPL)."""
        return self.pose_dim + self.betas + 3


FULL = TemporalNetConfig()

TINY = replace(
    FULL,
    feat_size=28,
    feat_dim=64,
    pose_lift=32,
    cam_lift=16,
    attn_dim=32,
    cam_attn_dim=8,
    gamma3_channels=(8, 16),
    gamma3_pool=7,
    regressor_hidden=64,
    lstm_hidden=48,
    lstm_layers=3,
    dropout=0.0,
)

BLAZEPOSE_FEATURES = 33 * 4 + 33 * 3
"""Width of the lite profile's H: 33 landmarks × (x, y image-normalised, z, visibility) + 33 world × 3."""

LITE = replace(
    FULL,
    feat_channels=BLAZEPOSE_FEATURES,
    gamma3="mlp",
    gamma3_hidden=(256,),
    feat_dim=256,
    pose_lift=128,
    cam_lift=64,
    attn_dim=128,
    cam_attn_dim=32,
    regressor_hidden=256,
    regressor_start="input",
    dropout=0.1,
    lstm_hidden=256,
    lstm_layers=3,
)

TINY_VECTOR = replace(
    TINY,
    feat_channels=BLAZEPOSE_FEATURES,
    gamma3="mlp",
    gamma3_hidden=(64,),
)

PRESETS: dict[str, TemporalNetConfig] = {"full": FULL, "lite": LITE, "tiny": TINY,
                                         "tiny_vector": TINY_VECTOR}
