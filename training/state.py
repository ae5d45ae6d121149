"""Training checkpoints: the network file of :mod:`stmocap.models.temporal.checkpoint` plus what a
run needs to continue bit for bit and to say where it came from.

Extra keys (all loadable with ``torch.load(weights_only=True)``):
``run`` (the :class:`~stmocap.training.config.RunConfig` as a dict), ``manifest`` (data files with
SHA-256, the body model), ``metrics`` (last epoch's loss terms, validation metrics) and ``state``
(step, optimiser, plateau schedule, RNG states, the running epoch sums).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from stmocap.models.temporal.checkpoint import CheckpointError, save_checkpoint
from stmocap.models.temporal.network import TemporalNet


def save_training_checkpoint(net: TemporalNet, path: Path, run: dict[str, Any], manifest: dict[str, Any],
                             metrics: dict[str, Any], state: dict[str, Any]) -> Path:
    """Write atomically (temporary file, then rename), so an interrupted save leaves the old one."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_checkpoint(net, tmp, {"run": run, "manifest": manifest, "metrics": metrics, "state": state})
    tmp.replace(path)
    return path


def load_training_blob(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """The whole checkpoint dict; fails in one line for files that are not training checkpoints."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    blob = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(blob, dict) or "state" not in blob or "run" not in blob:
        raise CheckpointError(f"{path} is not a training checkpoint of `stmocap train` (no run state)")
    return blob


def release_checkpoint(src: Path, dst: Path, note: dict[str, Any] | None = None) -> Path:
    """Write the network of training checkpoint ``src`` to ``dst`` with what says where it came
    from (``run``, ``manifest``, ``metrics``, and ``note`` under ``release``) but without the
    optimiser and RNG state only resuming needs: what ships, a fraction of the size."""
    blob = load_training_blob(Path(src))
    kept = {k: v for k, v in blob.items() if k != "state"}
    kept["release"] = {"from": Path(src).name, "step": int(blob["state"]["step"]), **(note or {})}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    torch.save(kept, tmp)
    tmp.replace(dst)
    return dst
