"""The same stages in one plain loop, without ZeroMQ between them (for overhead measurements)."""

from __future__ import annotations

from typing import Any

from stmocap.realtime.guard import FiniteGuard
from stmocap.realtime.messages import Message
from stmocap.realtime.pipeline import STAGES, PipelineConfig, build_stage
from stmocap.realtime.sources import frame_message, open_source
from stmocap.realtime.stages.base import EOS, run_chain


def run_inline(cfg: PipelineConfig) -> dict[str, Any]:
    """Run every stage in this thread, frame after frame; returns the publisher's final stats and
    its per-frame records."""
    stages = [build_stage(n, cfg, keep_records=True) for n in STAGES if n != "source"]
    guard = FiniteGuard(cfg.graph.nonfinite_limit)  # as in the graph, so the overhead compares
    try:
        with open_source(cfg.source) as src:
            last = -1
            for frame in src:
                run_chain(stages, frame_message(frame, src.fps, src.dropped, src.media_clock),
                          guard=guard)
                last = frame.index
                if cfg.graph.frames and frame.index + 1 >= cfg.graph.frames:
                    break
            run_chain(stages, Message(kind=EOS, seq=last + 1), guard=guard)
        publisher = stages[-1]
        return {"stats": publisher.stats.summary(), "records": publisher.stats.records}
    finally:
        for s in stages:
            s.close()
