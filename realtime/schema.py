"""What a stage needs from the messages it consumes, checked before the stage sees them.

A stage declares ``inputs``: for each message kind it consumes, a :class:`KindSchema` of the arrays
it reads (dtype and shape, where a named dimension such as ``"T"`` must be equal across the
message's arrays) and the ``meta`` values it reads. A worker validates every message it receives
against the schema of the first of its stages that consumes the message's kind
(:func:`validate`); a message that does not fit is counted and dropped with the reason, so a
stage never crashes on a malformed message from a socket.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from stmocap.realtime.messages import Message, MessageError

Dim = int | str | None  # fixed size, a named size shared across arrays, or any size


@dataclass(frozen=True)
class ArrayRule:
    """One array: allowed dtypes and its shape (``None`` entries: any size).

    ``required_when`` names a dimension: the array may be absent when that dimension is 0 (e.g.
    a frame with no windows carries no window outputs). With ``trailing`` set, ``shape`` is only
    the leading dimensions and the rest must hold ``trailing`` values in all (e.g. a model input
    reshaped per frame).
    """

    dtypes: tuple[str, ...]
    shape: tuple[Dim, ...]
    required_when: str | None = None
    trailing: int | None = None


def image_size(value: Any) -> bool:
    """``meta["image_size"]``: ``[W, H]`` positive integers."""
    return (isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1 << 16
                    for v in value))


@dataclass(frozen=True)
class KindSchema:
    """The arrays (name → rule) and meta values (key → check) a stage reads from one kind."""

    arrays: Mapping[str, ArrayRule] = field(default_factory=dict)
    meta: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)


F32 = ("float32",)
I64 = ("int64",)
KINDS = frozenset({"frame", "detections", "estimates", "windows", "params", "progress", "faces",
                   "body", "eos", "preview"})  # every kind that travels between processes
# (``preview`` on its own side channel, checked by stmocap.realtime.preview.PreviewInbox)
# Running totals every message may carry in its meta (the publisher puts them in the stats).
COUNTERS = ("dropped", "unreadable", "no_person", "more_people")


def schemas(kinds: Mapping[str, KindSchema]) -> Mapping[str, KindSchema]:
    """A stage's ``inputs``: kind → schema, read-only."""
    return MappingProxyType(dict(kinds))


def check(msg: Message, schema: KindSchema) -> None:
    """Raise :class:`MessageError` naming the first way ``msg`` does not fit ``schema``."""
    sizes: dict[str, int] = {}
    deferred = []
    for name, rule in schema.arrays.items():
        arr = msg.arrays.get(name)
        if arr is None:
            deferred.append((name, rule))
            continue
        if arr.dtype.name not in rule.dtypes:
            raise MessageError(f"{msg.kind} array '{name}' is {arr.dtype.name}, needs "
                               f"{'/'.join(rule.dtypes)}")
        lead = len(rule.shape)
        if (arr.ndim != lead) if rule.trailing is None else (
                arr.ndim < lead or math.prod(arr.shape[lead:]) != rule.trailing):
            extra = "" if rule.trailing is None else f" then {rule.trailing} values per item"
            raise MessageError(f"{msg.kind} array '{name}' has shape {list(arr.shape)}, needs "
                               f"{_show(rule.shape)}{extra}")
        for have, want in zip(arr.shape[:lead], rule.shape, strict=True):
            if isinstance(want, int) and have != want:
                raise MessageError(f"{msg.kind} array '{name}' has shape {list(arr.shape)}, "
                                   f"needs {_show(rule.shape)}")
            if isinstance(want, str) and sizes.setdefault(want, have) != have:
                raise MessageError(f"{msg.kind} array '{name}' has {want}={have} but another "
                                   f"array has {want}={sizes[want]}")
    for name, rule in deferred:
        if rule.required_when is None or sizes.get(rule.required_when, 1) > 0:
            raise MessageError(f"{msg.kind} message lacks array '{name}'")
    for key, ok in schema.meta.items():
        if key not in msg.meta or not ok(msg.meta[key]):
            raise MessageError(f"{msg.kind} meta '{key}' missing or invalid")


def _show(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in shape) + ")"


def validate(msg: Message, stages: Sequence[Any]) -> None:
    """Check ``msg`` against the first of ``stages`` that consumes its kind; a kind none of them
    consumes passes through to downstream processes, which check it there. Raises
    :class:`MessageError`."""
    if msg.kind not in KINDS:
        raise MessageError(f"unknown message kind {msg.kind[:40]!r}")
    # What every worker reads from every message (counts carried along for the stats).
    for key in COUNTERS:
        n = msg.meta.get(key, 0)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise MessageError(f"meta '{key}' must be a non-negative integer")
    rejected = msg.meta.get("rejected", {})
    if not isinstance(rejected, dict) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in rejected.items()):
        raise MessageError("meta 'rejected' must map worker numbers to counts")
    for stage in stages:
        if msg.kind in stage.consumes:
            schema = stage.input_schema(msg.kind)
            if schema is not None:
                check(msg, schema)
            return
