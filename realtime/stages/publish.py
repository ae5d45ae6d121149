"""Publish stage: hands the graph's bodies to the public stream (:mod:`stmocap.realtime.publisher`).

Topics ``pose``, ``mesh``, ``mesh.faces``, ``stats`` (and, opt-in, ``preview``) on one XPUB
socket, in the wire format of :mod:`stmocap.realtime.messages`; ``docs/protocol.md`` documents
them. A slow subscriber only loses
its own messages (PUB drops at its queue limit); the pipeline never waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from stmocap.realtime.messages import Message
from stmocap.realtime.preview import PreviewLink
from stmocap.realtime.publisher import Publisher, drain
from stmocap.realtime.schema import COUNTERS, ArrayRule, KindSchema, schemas
from stmocap.realtime.stages.base import EOS, Stage
from stmocap.realtime.stats import StreamStats

from stmocap.validate import AT_LEAST_ONE, POSITIVE, bind_endpoint


@dataclass(frozen=True)
class PublishConfig:
    """Where and how the stream is published."""

    endpoint: str = field(default="tcp://127.0.0.1:5556", metadata={"check": bind_endpoint,
        "help": "ZeroMQ endpoint to publish on (loopback by default; tcp://0.0.0.0:5556 for all)"})
    keys: Path | None = field(default=None, metadata={
        "help": "folder made by `stmocap keys`: encrypt with CURVE and accept only its clients"})
    stats_period: float = field(default=1.0, metadata={"check": POSITIVE,
        "help": "seconds between stats messages (a heartbeat: sent whether or not frames flow)"})
    queue: int = field(default=64, metadata={"check": AT_LEAST_ONE,
        "help": "messages queued per subscriber before a slow one loses messages"})


class PublishStage(Stage):
    name = "publish"
    consumes = ("faces", "body", "progress")
    produces = ()
    inputs = schemas({"faces": KindSchema({"faces": ArrayRule(("int32", "int64"), (None, 3))}),
              "body": KindSchema({"vertices": ArrayRule(("float32",), (None, 3))})})

    def __init__(self, config: PublishConfig, report: Callable[[dict[str, Any]], None] | None = None,
                 keep_records: bool = False, wait_subscribers: int = 0,
                 wait_timeout: float = 60.0, preview: PreviewLink | None = None) -> None:
        self.config = config
        self.report = report
        self.publisher = Publisher(config.endpoint, zmq.Context.instance(), queue_size=config.queue,
                                   stats_period=config.stats_period, keys=config.keys,
                                   keep_records=keep_records, preview=preview)
        if wait_subscribers:
            try:
                self.publisher.wait_for_clients(wait_subscribers, wait_timeout)
            except BaseException:
                self.publisher.close()
                raise

    @property
    def stats(self) -> StreamStats:
        return self.publisher.stats

    def process(self, msg: Message) -> list[Message]:
        self.publisher.put(msg)
        drain(self.publisher.summaries, self.report)
        return []

    def handle(self, msg: Message) -> list[Message]:
        if msg.kind == EOS:  # the end of stream carries the final totals (e.g. frames unreadable)
            totals = {k: msg.meta[k] for k in COUNTERS if k in msg.meta}
            if totals:
                self.publisher.put(Message(kind="progress", stream=msg.stream, meta=totals))
        return super().handle(msg)

    def finish(self) -> list[Message]:
        final = self.publisher.end()
        drain(self.publisher.summaries, None)
        if self.report is not None:
            self.report(final)
        return []

    def close(self) -> None:
        self.publisher.close()
