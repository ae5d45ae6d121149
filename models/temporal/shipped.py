"""The lite temporal network's shipped weights: one checkpoint per lookahead it was trained for.

``models/temporal/data/lite_l{L}.pt`` are released `stmocap train` checkpoints (weights, the
network config, the run's whole configuration, the data manifest with SHA-256 and the validation
metrics; no optimiser state), trained on the shipped clips only (NOTICE beside them;
docs/training.md and docs/benchmarks.md say how and what they score). They are used where the
lite profile runs ``--temporal auto`` (the default) or ``net`` without ``--checkpoint``
(:func:`stmocap.realtime.pipeline.resolve_shipped_temporal`).
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).with_name("data")
WINDOW = 16  # every shipped network reads windows of this many frames (tests check each file)


def shipped_lookaheads() -> tuple[int, ...]:
    """Lookaheads L with shipped lite weights, ascending."""
    found = (p.stem.removeprefix("lite_l") for p in DATA.glob("lite_l*.pt"))
    return tuple(sorted(int(s) for s in found if s.isdigit()))


def shipped_checkpoint(lookahead: int) -> Path | None:
    """The shipped lite checkpoint trained for ``lookahead``, or ``None``."""
    path = DATA / f"lite_l{lookahead}.pt"
    return path if path.is_file() else None
