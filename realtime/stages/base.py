"""The stage contract: declared message kinds in and out, ``process`` and ``finish``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from stmocap.realtime.messages import Message

EOS = "eos"


class Stage(ABC):
    """One step of the graph.

    ``process`` takes a message of a kind in ``consumes`` and returns zero or more messages of
    kinds in ``produces``. ``finish`` runs once at the end of the stream and returns what the stage
    still holds (e.g. tail windows). Messages of other kinds pass through untouched.
    """

    name: ClassVar[str]
    consumes: ClassVar[tuple[str, ...]]
    produces: ClassVar[tuple[str, ...]]

    @abstractmethod
    def process(self, msg: Message) -> list[Message]:
        """Handle one message."""

    def finish(self) -> list[Message]:
        """End of stream: flush state."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sockets, engines, files."""

    def handle(self, msg: Message) -> list[Message]:
        """Route ``msg``: process what this stage consumes, flush on end of stream, pass the rest."""
        if msg.kind == EOS:
            return [m.stamp(self.name) for m in self.finish()] + [msg]
        if msg.kind not in self.consumes:
            return [msg]
        return [m.stamp(self.name) for m in self.process(msg)]


class StageError(Exception):
    """A stage raised; ``stage`` names it and the message carries the original error."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        super().__init__(f"{stage}: {type(exc).__name__}: {exc}")
        self.stage = stage


def run_chain(stages: list[Stage], msg: Message) -> list[Message]:
    """Pass ``msg`` through ``stages`` in order (each output feeds the next stage); a failure is
    re-raised as :class:`StageError` naming the stage."""
    batch = [msg]
    for stage in stages:
        try:
            batch = [out for m in batch for out in stage.handle(m)]
        except Exception as exc:
            raise StageError(stage.name, exc) from exc
    return batch
