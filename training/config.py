"""Configuration of a training run: frozen dataclasses, one TOML file.

Tables: ``[train]`` (:class:`TrainConfig`), ``[data]`` (:class:`DataConfig`), ``[loss]``
(:class:`LossConfig`, the weights of :mod:`stmocap.training.losses`) and ``[temporal]`` (fields of
:class:`~stmocap.models.temporal.config.TemporalNetConfig` overriding the chosen preset).
Relative paths in ``[data]`` and ``[train] out`` are relative to the TOML file's folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stmocap.models.temporal.config import PRESETS, TemporalNetConfig

from stmocap.config import ConfigError, build_config, load_toml_table

Positions = Literal["served", "all"]
DataFormat = Literal["auto", "vibe", "stmocap"]
LOSS_TERMS = ("pose", "shape", "joints3d", "joints2d", "accel", "limbs")
SERVED_TERMS = ("served_accel", "served_velocity")


@dataclass(frozen=True)
class LossConfig:
    """Weights of the training loss (paper eq. 9)."""

    pose: float = field(default=300.0, metadata={"help": "weight of the pose term (λ_SMPL·λ_pose)"})
    shape: float = field(default=300.0, metadata={"help": "weight of the shape term (λ_SMPL·λ_shape)"})
    joints3d: float = field(default=0.06, metadata={"help": "weight of the 3D joint term (λ_3D)"})
    joints2d: float = field(default=60.0, metadata={"help": "weight of the 2D keypoint term (λ_2D)"})
    accel: float = field(default=0.0, metadata={"help": "weight of a 3D acceleration term (not in "
                                                        "the paper)"})
    limbs: float = field(default=0.0, metadata={
        "help": "weight of a limb-direction term: mean 1 − cos between predicted and true upper "
                "arms, forearms, thighs and shins (SMPL's 24 joints only; not in the paper)"})
    coarse: float = field(default=0.0, metadata={"help": "factor of the same loss on g's coarse "
                                                         "output (0: refined only, as the paper)"})
    served_accel: float = field(default=0.0, metadata={
        "help": "weight of the acceleration of the served stream: second differences of the "
                "aligned 3D joints that consecutive windows serve (needs [train] served_run >= 3; "
                "not in the paper)"})
    served_velocity: float = field(default=0.0, metadata={
        "help": "weight of the velocity of the served stream (first differences; needs "
                "served_run >= 2)"})

    def __post_init__(self) -> None:
        for name in (*LOSS_TERMS, *SERVED_TERMS, "coarse"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss weight {name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule, reproducibility and outputs of a training run."""

    preset: str = field(default="lite", metadata={"help": f"network preset: {', '.join(PRESETS)}"})
    seed: int = field(default=0, metadata={"help": "seed of weights, batch order and dropout"})
    epochs: int = field(default=35, metadata={"help": "passes over the training windows (paper: 35)"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps (0: epochs decide)"})
    batch_size: int = field(default=32, metadata={"help": "windows per step (paper: 32)"})
    lr: float = field(default=5e-5, metadata={"help": "Adam learning rate (paper: 5e-5)"})
    weight_decay: float = field(default=0.0, metadata={"help": "Adam weight decay"})
    plateau_patience: int = field(default=5, metadata={
        "help": "epochs without a better score before the learning rate drops (paper: 5)"})
    plateau_factor: float = field(default=0.1, metadata={"help": "learning-rate factor on a plateau"})
    grad_clip: float = field(default=0.0, metadata={"help": "clip the gradient norm (0: off)"})
    lookahead: int = field(default=0, metadata={
        "help": "frames L the served stream waits (0..W-1): trains positions W-1-L..W-1"})
    positions: Positions = field(default="served", metadata={
        "help": "window positions the loss covers: served (from lookahead) or all"})
    stride: int = field(default=4, metadata={"help": "frames between training window starts"})
    score_accel: float = field(default=0.0, metadata={
        "help": "weight of validation ACC-ERR (mm/frame²) beside MPJPE (mm) in the score that picks "
                "best.pt and drives the plateau schedule"})
    served_run: int = field(default=1, metadata={
        "help": "consecutive windows (shifted by one frame) per sample, so the loss sees the stream "
                "a viewer is served, frame after frame (1: independent windows)"})
    train_only: tuple[str, ...] = field(default=(), metadata={
        "help": "train only these parts of the network (sta, regressor, refiner); the others keep "
                "their seeded initial weights (empty: train all)"})
    pass_through: bool = field(default=False, metadata={
        "help": "with train_only: g and ζ, when not trained, get zero output layers and pass "
                "their start through; with regressor_start = aggregated and only the STA trained, "
                "the output is then Θ_init averaged by the STA's learned weighting, exactly"})
    checkpoint_every: int = field(default=500, metadata={"help": "steps between checkpoints"})
    out: str = field(default="runs/train", metadata={"help": "folder for checkpoints and logs"})
    body: str = field(default="free", metadata={
        "help": "body model of the losses: 'free' or an SMPL file/folder"})
    device: str = field(default="cpu", metadata={"help": "cpu or cuda"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})
    tensorboard: bool = field(default=False, metadata={"help": "also log to TensorBoard (needs it)"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset {self.preset!r} is not one of {sorted(PRESETS)}")
        positive = ("epochs", "batch_size", "stride", "checkpoint_every", "served_run")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        parts = ("sta", "regressor", "refiner")
        if any(p not in parts for p in self.train_only) or len(set(self.train_only)) != len(self.train_only):
            raise ValueError(f"train_only must list distinct parts of {parts}, got {self.train_only}")
        if self.max_steps < 0 or self.lr <= 0 or self.plateau_patience < 1 or self.score_accel < 0:
            raise ValueError("max_steps must be >= 0, lr > 0, plateau_patience >= 1 and "
                             "score_accel >= 0")


@dataclass(frozen=True)
class DataConfig:
    """Training and validation data files (VIBE/TCMR ``.pt`` databases or stmocap ``.npz``)."""

    train: tuple[str, ...] = field(default=(), metadata={"help": "training files"})
    val: tuple[str, ...] = field(default=(), metadata={"help": "validation files (the plateau "
                                                                 "schedule follows their MPJPE)"})
    format: DataFormat = field(default="auto", metadata={"help": "auto (by suffix), vibe or stmocap"})
    feature_key: str = field(default="features", metadata={"help": "column holding the features H"})
    bbox_scale: float = field(default=1.0, metadata={
        "help": "crop side / box side for normalising VIBE pixel keypoints"})
    mirror: bool = field(default=False, metadata={
        "help": "also train on every training video mirrored left-right (lite features only; "
                "validation is never mirrored)"})


@dataclass(frozen=True)
class RunConfig:
    """Everything a run was made from; stored in each checkpoint."""

    train: TrainConfig
    data: DataConfig
    loss: LossConfig
    net: TemporalNetConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _resolve(base: Path, p: str) -> str:
    path = Path(p).expanduser()
    return str(path if path.is_absolute() else (base / path))


def load_run_config(file: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read ``file`` (TOML); ``overrides`` replace ``[train]`` fields (from command-line options)."""
    file = Path(file)
    base = file.resolve().parent
    train = build_config(TrainConfig, None, file, "train")
    if overrides:
        train = dataclasses.replace(train, **overrides)
    data = build_config(DataConfig, None, file, "data")
    if not data.train:
        raise ConfigError(f"{file}: [data] train lists no files")
    data = dataclasses.replace(data, train=tuple(_resolve(base, p) for p in data.train),
                               val=tuple(_resolve(base, p) for p in data.val))
    if overrides is None or "out" not in overrides:
        train = dataclasses.replace(train, out=_resolve(base, train.out))
    loss = build_config(LossConfig, None, file, "loss")
    net = build_config(TemporalNetConfig, None, file, "temporal", base=PRESETS[train.preset])
    return RunConfig(train, data, loss, net)


def run_config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Inverse of :meth:`RunConfig.to_dict` (lists back to tuples)."""
    def make(cls: type, values: dict[str, Any]) -> Any:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    return RunConfig(make(TrainConfig, d["train"]), make(DataConfig, d["data"]),
                     make(LossConfig, d["loss"]), make(TemporalNetConfig, d["net"]))


def check_toml_tables(file: Path) -> None:
    """Reject unknown top-level tables (a typo would otherwise be silently ignored)."""
    doc = load_toml_table(Path(file))
    unknown = sorted(set(doc) - {"train", "data", "loss", "temporal"})
    if unknown:
        raise ConfigError(f"{file}: unknown table(s) {unknown}; valid: [train], [data], [loss], "
                          "[temporal]")
