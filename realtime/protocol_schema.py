"""The public stream's contract as data: what ``docs/protocol.md`` documents, field by field.

The publisher takes its array and meta lists from here, :func:`check_message` validates a raw
message against it (the protocol tests run it on every message of a live ``stmocap run``) and a
test checks that the document's tables say the same.

Types are written as in the document: ``int``, ``float``, ``str``, ``bool``, ``[T]`` (a list of
``T``), ``[T, U]`` (a list of exactly these), ``{str: T}`` (a map). ``float`` accepts msgpack
integers too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

VERSION = 2
TOPICS = ("pose", "mesh", "mesh.faces", "stats", "preview")
HELLO_PREFIX = b"hello."
# Little-endian on the wire whatever the host; names as numpy spells them.
DTYPES = ("uint8", "int32", "int64", "float16", "float32", "float64", "bool")


@dataclass(frozen=True)
class Field:
    """A header field or meta key: its type (see the module docstring) and whether it is always
    present."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class ArraySpec:
    """An array: dtype and shape (ints are fixed, names are sizes a client reads from the spec)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class Kind:
    """One kind of message: the topic it travels on, its arrays (in this order) and meta keys.
    ``frame_header``: ``track``, ``t_capture_ns`` and stamps describe a captured frame; otherwise
    they take the fill-in values ``-1``, ``0`` and a single ``publish`` stamp. ``per_person``: a
    frame's message is about one tracked person (``track >= 0``); the preview is about the whole
    frame (``track`` -1)."""

    kind: str
    topics: tuple[str, ...]
    arrays: tuple[ArraySpec, ...]
    meta: tuple[Field, ...]
    frame_header: bool
    per_person: bool = False


HEADER = (
    Field("v", "int"), Field("kind", "str"), Field("stream", "str"), Field("seq", "int"),
    Field("frame_index", "int"), Field("track", "int"), Field("t_capture_ns", "int"),
    Field("stamps", "[[str, int]]"), Field("arrays", "[[str, str, [int]]]"),
    Field("meta", "{str: any}"),
)

POSE_ARRAY_SPECS = (
    ArraySpec("rotmats", "float32", (24, 3, 3)),
    ArraySpec("pose_aa", "float32", (72,)),
    ArraySpec("betas", "float32", (10,)),
    ArraySpec("cam", "float32", (3,)),
    ArraySpec("transl", "float32", (3,)),
    ArraySpec("pelvis", "float32", (3,)),
    ArraySpec("joints3d", "float32", (24, 3)),
    ArraySpec("joints2d", "float32", (24, 2)),
    ArraySpec("box", "float32", (4,)),
    ArraySpec("T_world_cam", "float32", (4, 4)),
    ArraySpec("pelvis_world", "float32", (3,)),
    # v2 additions go here (see docs/protocol.md, "Adding fields").
)
POSE_META_FIELDS = (
    Field("image_size", "[int, int]"), Field("intrinsics", "{str: any}"),
    Field("world_frame", "{str: any}"), Field("fps", "float"),
    Field("windows", "int"), Field("dropped", "int"), Field("unreadable", "int"),
    Field("no_person", "int"), Field("t_media", "float", required=False),
)
STATS_META_FIELDS = (
    Field("frames", "int"), Field("fps", "float"), Field("period", "float"),
    Field("latency_ms", "{str: float}", required=False),
    Field("stage_ms", "[[str, float]]", required=False),
    Field("dropped", "int"), Field("unreadable", "int"), Field("no_person", "int"),
    Field("more_people", "int"), Field("rejected", "{str: int}"),
    Field("eos", "bool"),
)

PREVIEW_META_FIELDS = (
    Field("image_size", "[int, int]"), Field("size", "[int, int]"),
    Field("scale", "[float, float]"), Field("quality", "int"),
)

KINDS = {
    "pose": Kind("pose", ("pose",), POSE_ARRAY_SPECS, POSE_META_FIELDS, True, True),
    "mesh": Kind("mesh", ("mesh",), (ArraySpec("vertices", "float32", ("V", 3)),), (), True, True),
    "faces": Kind("faces", ("mesh.faces",), (ArraySpec("faces", "int32", ("F", 3)),), (), False),
    "stats": Kind("stats", ("stats",), (), STATS_META_FIELDS, False),
    "preview": Kind("preview", ("preview",), (ArraySpec("jpeg", "uint8", ("N",)),),
                    PREVIEW_META_FIELDS, True),
    "eos": Kind("eos", TOPICS, (), STATS_META_FIELDS, False),
}

POSE_ARRAYS = tuple(a.name for a in POSE_ARRAY_SPECS)
POSE_META = frozenset(f.name for f in POSE_META_FIELDS)


def _split(inner: str) -> list[str]:
    """Top-level comma split of ``inner`` (brackets nest)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(inner):
        depth += c in "[{"
        depth -= c in "]}"
        if c == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return [p for p in parts if p]


def type_ok(typ: str, value: Any) -> bool:
    """Whether ``value`` (as msgpack decodes it) has type ``typ``."""
    typ = typ.strip()
    if typ == "any":
        return True
    if typ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ == "str":
        return isinstance(value, str)
    if typ == "bool":
        return isinstance(value, bool)
    if typ.startswith("{") and typ.endswith("}"):
        key, val = (t.strip() for t in typ[1:-1].split(":", 1))
        return isinstance(value, dict) and all(type_ok(key, k) and type_ok(val, v)
                                               for k, v in value.items())
    if typ.startswith("[") and typ.endswith("]"):
        items = _split(typ[1:-1])
        if not isinstance(value, list):
            return False
        if len(items) == 1:
            return all(type_ok(items[0], v) for v in value)
        return len(value) == len(items) and all(type_ok(t, v) for t, v in zip(items, value, strict=True))
    raise ValueError(f"unknown type {typ!r}")


def _check_fields(where: str, fields: Sequence[Field], values: dict[str, Any]) -> list[str]:
    problems = []
    for f in fields:
        if f.name not in values:
            if f.required:
                problems.append(f"{where}: '{f.name}' missing")
        elif not type_ok(f.type, values[f.name]):
            problems.append(f"{where}: '{f.name}' = {values[f.name]!r} is not {f.type}")
    return problems


def check_message(topic: str, frames: Sequence[bytes]) -> list[str]:
    """Problems of one raw public message ``[header, buffers…]`` received on ``topic`` (empty: it
    follows the contract). Unknown meta keys are allowed, as clients must ignore them."""
    try:
        h = msgpack.unpackb(frames[0], raw=False)
    except Exception as exc:
        return [f"header is not msgpack: {exc}"]
    if not isinstance(h, dict):
        return ["header is not a map"]
    problems = _check_fields("header", HEADER, h)
    if problems:
        return problems
    if h["v"] != VERSION:
        return [f"schema version {h['v']}, expected {VERSION}"]
    kind = KINDS.get(h["kind"])
    if kind is None:
        return [f"unknown kind {h['kind']!r}"]
    if topic not in kind.topics:
        problems.append(f"kind {kind.kind} on topic {topic}")
    if [s for s, _ in h["stamps"]] != sorted({s for s, _ in h["stamps"]},
                                               key=[s for s, _ in h["stamps"]].index):
        problems.append("a stage is stamped twice")
    times = [t for _, t in h["stamps"]]
    if times != sorted(times):
        problems.append("stamps are not in time order")
    if not h["stamps"] or h["stamps"][-1][0] != "publish":
        problems.append("the last stamp is not publish")
    if kind.frame_header:
        if h["t_capture_ns"] <= 0 or h["frame_index"] < 0:
            problems.append("a frame's message needs t_capture_ns > 0, frame_index >= 0")
        if (h["track"] < 0) if kind.per_person else (h["track"] != -1):
            problems.append("a person's message needs track >= 0" if kind.per_person
                            else f"a {kind.kind} message is about no person: track must be -1")
    elif h["track"] != -1 or h["t_capture_ns"] != 0 or len(h["stamps"]) != 1:
        problems.append("fill-in header values must be track -1, t_capture_ns 0, one stamp")
    specs = h["arrays"]
    if [s[0] for s in specs] != [a.name for a in kind.arrays]:
        problems.append(f"arrays {[s[0] for s in specs]}, expected {[a.name for a in kind.arrays]}")
    elif len(frames) - 1 != len(specs):
        problems.append(f"{len(specs)} arrays but {len(frames) - 1} buffers")
    else:
        for (name, dtype, shape), spec, buf in zip(specs, kind.arrays, frames[1:], strict=True):
            fixed = [(got, want) for got, want in zip(shape, spec.shape, strict=False)
                     if isinstance(want, int)]
            if dtype != spec.dtype or len(shape) != len(spec.shape) or any(g != w for g, w in fixed):
                problems.append(f"array {name}: {dtype} {shape}, expected {spec.dtype} {spec.shape}")
                continue
            size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            if len(buf) != size:
                problems.append(f"array {name}: {len(buf)} bytes, expected {size}")
    problems += _check_fields(f"{kind.kind} meta", kind.meta, h["meta"])
    return problems
