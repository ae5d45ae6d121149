"""The stage contract: declared message kinds in and out, ``process`` and ``finish``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import ClassVar

from stmocap.realtime.messages import Message
from stmocap.realtime.schema import KindSchema

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
    # What the stage reads from each consumed kind; checked before ``process`` sees a message
    # that came over a socket (stmocap.realtime.schema).
    inputs: ClassVar[Mapping[str, KindSchema]] = {}

    def input_schema(self, kind: str) -> KindSchema | None:
        """The schema messages of ``kind`` must fit before this stage handles them."""
        return self.inputs.get(kind)

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


def run_chain(stages: list[Stage], msg: Message,
              entering: Callable[[str], None] | None = None,
              guard: Callable[[str, list[Message]], list[Message]] | None = None) -> list[Message]:
    """Pass ``msg`` through ``stages`` in order (each output feeds the next stage); a failure is
    re-raised as :class:`StageError` naming the stage.

    ``entering(name)`` is called before each stage runs (progress reports); ``guard(name,
    produced)`` filters what a stage newly produced (messages passed through untouched and the end
    of stream are not given to it) and may raise to end the run.
    """
    batch = [msg]
    for stage in stages:
        if entering is not None:
            entering(stage.name)
        try:
            out = []
            for m in batch:
                produced = stage.handle(m)
                if guard is not None:
                    fresh = [o for o in produced if o is not m and o.kind != EOS]
                    if fresh:
                        kept = {id(o) for o in guard(stage.name, fresh)}
                        produced = [o for o in produced
                                    if o is m or o.kind == EOS or id(o) in kept]
                out += produced
            batch = out
        except Exception as exc:
            raise StageError(stage.name, exc) from exc
    return batch
