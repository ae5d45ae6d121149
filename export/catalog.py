"""The models stmocap can export, each with its tensor specs and a builder.

Every model is wrapped so that ``forward`` takes its inputs positionally and returns a tuple in
output-spec order: that is what the engines and the ONNX exporter see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from stmocap.engines.artifact import sha256_file
from stmocap.engines.base import TensorSpec
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
        TensorSpec("feats", "float32", ("batch", W, c.feat_channels, c.feat_size, c.feat_size)),
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
    from stmocap.models.body.model import LBSBody
    from stmocap.models.body.smpl_file import load_smpl_file
    from stmocap.models.body.synthetic import make_synthetic_body

    if checkpoint is not None:
        data = load_smpl_file(checkpoint)
        source = sha256_file(Path(data.source))
    else:
        data = make_synthetic_body()
        source = "synthetic-body"
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


CATALOG: dict[str, CatalogEntry] = {
    "temporal": CatalogEntry("temporal", "the paper's STA + regressor + LSTM network",
                             ("tiny", "full"), _build_temporal),
    "body": CatalogEntry("body", "SMPL-format body forward (LBS): vertices and joints",
                         ("default",), _build_body),
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
