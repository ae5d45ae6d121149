"""Output guard: messages a stage produces with NaN or ±Inf in a float array never leave it.

Each such message is counted (per stage) and dropped; a stage whose last ``limit`` outputs in a
row were all non-finite raises :class:`NonFiniteError`, which ends the run naming the stage (a
broken model keeps producing them, a one-off numerical blip does not).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from stmocap.realtime.messages import Message


class NonFiniteError(RuntimeError):
    """A stage kept producing non-finite values."""


def non_finite_array(msg: Message) -> str | None:
    """The name of the first float array of ``msg`` holding NaN or ±Inf, else ``None``."""
    for name, arr in msg.arrays.items():
        if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
            return name
    return None


class FiniteGuard:
    """Counts and drops non-finite outputs; ``limit`` consecutive ones from a stage end the run
    (``limit <= 0``: only count and drop)."""

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit
        self.dropped: Counter[str] = Counter()  # stage → messages dropped
        self._run: Counter[str] = Counter()  # stage → consecutive non-finite outputs

    def __call__(self, stage: str, produced: list[Message]) -> list[Message]:
        """``produced`` minus its non-finite messages (raises after ``limit`` in a row)."""
        kept = []
        for m in produced:
            bad = non_finite_array(m)
            if bad is None:
                kept.append(m)
                self._run[stage] = 0
                continue
            self.dropped[stage] += 1
            self._run[stage] += 1
            if 0 < self.limit <= self._run[stage]:
                raise NonFiniteError(
                    f"produced non-finite values ('{bad}' has NaN/Inf) in {self._run[stage]} "
                    f"messages in a row ({self.dropped[stage]} dropped in all): its model or "
                    "input is broken")
        return kept
