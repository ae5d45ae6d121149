"""Running statistics of the output stream: FPS, capture→publish latency, per-stage latency."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from stmocap.evaluation.timing import percentile


@dataclass
class StreamStats:
    """Keeps the last ``window`` records; ``records`` keeps all (for reports) when ``keep_all``."""

    window: int = 300
    keep_all: bool = False
    frames: int = 0
    recent: deque = field(default_factory=deque)  # (t_publish_ns, latency_ms, stage_ms dict)
    records: list = field(default_factory=list)
    started_ns: int = field(default_factory=time.monotonic_ns)

    def add(self, t_capture_ns: int, stamps: dict[str, int], t_publish_ns: int) -> None:
        stage_ms = {}
        prev = t_capture_ns
        for name, t in stamps.items():
            stage_ms[name] = (t - prev) / 1e6
            prev = t
        stage_ms["publish"] = (t_publish_ns - prev) / 1e6
        latency = (t_publish_ns - t_capture_ns) / 1e6
        self.recent.append((t_publish_ns, latency, stage_ms))
        while len(self.recent) > self.window:
            self.recent.popleft()
        if self.keep_all:
            self.records.append({"t_capture_ns": t_capture_ns, "t_publish_ns": t_publish_ns,
                                 "latency_ms": latency, "stage_ms": stage_ms})
        self.frames += 1

    def summary(self) -> dict[str, Any]:
        if not self.recent:
            return {"frames": self.frames, "fps": 0.0}
        lat = [r[1] for r in self.recent]
        span = (self.recent[-1][0] - self.recent[0][0]) / 1e9
        fps = (len(self.recent) - 1) / span if span > 0 else 0.0
        stages: dict[str, list[float]] = {}
        for _, _, st in self.recent:
            for k, v in st.items():
                stages.setdefault(k, []).append(v)
        return {
            "frames": self.frames, "fps": round(fps, 2),
            "latency_ms": {q: round(percentile(lat, p), 2)
                           for q, p in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
            "stage_ms": {k: round(percentile(v, 50), 3) for k, v in stages.items()},
        }
