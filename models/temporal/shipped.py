"""The lite temporal network's shipped weights: one checkpoint per lookahead it was trained for.

``models/temporal/data/lite_l{L}.pt`` are released `stmocap train` checkpoints (weights, the
network config, the run's whole configuration, the data manifest with SHA-256 and the validation
metrics; no optimiser state), trained on the shipped clips only (NOTICE beside them;
docs/training.md and docs/benchmarks.md say how and what they score). They are used where the
lite profile runs ``--temporal net`` without ``--checkpoint`` (:func:`resolve_shipped_temporal`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")


def shipped_lookaheads() -> tuple[int, ...]:
    """Lookaheads L with shipped lite weights, ascending."""
    found = (p.stem.removeprefix("lite_l") for p in DATA.glob("lite_l*.pt"))
    return tuple(sorted(int(s) for s in found if s.isdigit()))


def shipped_checkpoint(lookahead: int) -> Path | None:
    """The shipped lite checkpoint trained for ``lookahead``, or ``None``."""
    path = DATA / f"lite_l{lookahead}.pt"
    return path if path.is_file() else None


def resolve_shipped_temporal(cfg: Any, default_preset: str = "tiny") -> Any:
    """A :class:`~stmocap.realtime.pipeline.PipelineConfig` with the shipped lite weights filled in.

    Applies to the lite profile with ``--temporal net``, no ``--checkpoint`` and the default
    ``--preset`` (``tiny`` reads DensePose maps, not the lite features, so it cannot be what was
    meant): the checkpoint becomes the shipped one for ``--lookahead``, and the One-Euro filter is
    turned off (the network's output is what was measured; a filter after it only adds lag). An
    explicit ``--preset`` keeps the untrained network. Raises ``ValueError`` naming the lookaheads
    that have weights when this one has none."""
    t = cfg.temporal
    if (cfg.perframe.profile != "lite" or t.temporal != "net" or t.checkpoint is not None
            or t.preset != default_preset):
        return cfg
    path = shipped_checkpoint(cfg.plan.lookahead)
    if path is None:
        have = ", ".join(str(L) for L in shipped_lookaheads()) or "none"
        raise ValueError(f"--temporal net on the lite profile: no shipped weights for --lookahead "
                         f"{cfg.plan.lookahead} (shipped: {have}); pass --checkpoint CKPT (`stmocap "
                         "train`) or --preset lite for an untrained network")
    return replace(cfg, temporal=replace(t, checkpoint=path),
                   smoothing=replace(cfg.smoothing, filter="none"))
