"""Wall-clock timing of repeated calls: median and tail latency after warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TimingStats:
    """Latency summary in milliseconds over ``calls`` timed calls."""

    calls: int
    median_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float

    def line(self) -> str:
        return (f"median {self.median_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, "
                f"min {self.min_ms:.1f} ms, max {self.max_ms:.1f} ms over {self.calls} calls")


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` in [0, 100] of a non-empty list."""
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def time_calls(fn: Callable[[], object], calls: int = 20, warmup: int = 2) -> TimingStats:
    """Call ``fn`` ``warmup`` times untimed, then ``calls`` times timed (``perf_counter``)."""
    if calls < 1:
        raise ValueError("calls must be >= 1")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return TimingStats(calls, statistics.median(samples), percentile(samples, 95), min(samples),
                       max(samples))
