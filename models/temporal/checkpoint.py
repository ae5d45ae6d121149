"""Temporal-network checkpoints that carry the configuration that made them.

File layout (``torch.save``): ``{"format": "stmocap-temporal", "version": 1, "config": {...},
"state_dict": {...}}``. The mean parameters are buffers of the state dict.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from stmocap.models.temporal.config import TemporalNetConfig
from stmocap.models.temporal.network import TemporalNet

FORMAT = "stmocap-temporal"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, of another kind, or does not fit the network."""


def config_from_dict(d: dict[str, Any]) -> TemporalNetConfig:
    names = {f.name for f in fields(TemporalNetConfig)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise CheckpointError(f"checkpoint config has unknown fields {unknown}")
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return TemporalNetConfig(**d)


def save_checkpoint(net: TemporalNet, path: Path, extra: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "version": VERSION, "config": asdict(net.cfg),
                "state_dict": net.state_dict(), **(extra or {})}, path)
    return path


def load_checkpoint(path: Path, map_location: str = "cpu") -> TemporalNet:
    """Rebuild the network from a checkpoint; errors name what is wrong in one line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"temporal checkpoint not found: {path} (train one with "
                              "`stmocap train`)")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for non-checkpoint files
        raise CheckpointError(f"{path} is not a torch checkpoint ({type(exc).__name__})") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        kind = blob.get("format", "no 'format' key") if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(f"{path} is not a stmocap temporal checkpoint ({kind}); it may be an "
                              "HMR2.0 or DensePose file given to the wrong option")
    if blob.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {blob.get('version')}, expected {VERSION}")
    net = TemporalNet(config_from_dict(blob["config"]))
    result = net.load_state_dict(blob["state_dict"], strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{path} does not fit its own config: missing {result.missing_keys[:3]}, "
                              f"unexpected {result.unexpected_keys[:3]}")
    return net.eval()
