"""Wire format of every message in the graph and on the public sockets.

A message is a ZeroMQ multipart: ``[header, buffer_0, buffer_1, …]`` (public PUB sockets put a topic
frame first). The header is a msgpack map:

``v`` schema version, ``kind``, ``stream``, ``seq`` (inside the graph: the frame number; on the
public socket the publisher renumbers it per topic), ``frame_index`` (the source frame the message
describes), ``track``, ``t_capture_ns`` (``time.monotonic_ns()`` at capture, same host), ``stamps``
(``[[stage, monotonic ns], …]`` in the order the stages finished), ``arrays`` (``[name, dtype,
shape]`` per buffer, in order) and ``meta`` (small msgpack values). Buffers are raw C-contiguous,
little-endian array bytes, sent without copying. ``docs/protocol.md`` is the public contract.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

SCHEMA_VERSION = 2
DTYPES = frozenset({"uint8", "int32", "int64", "float16", "float32", "float64", "bool"})
MAX_DIMS = 8
MAX_ARRAY_BYTES = 1 << 30  # 1 GiB: far above any frame or mesh, far below an overflow
MAX_HEADER_BYTES = 1 << 20


class MessageError(ValueError):
    """A received message does not follow the wire format (it is counted and dropped)."""


@dataclass
class Message:
    """One unit of data flowing through the graph (see the module docstring for the fields)."""

    kind: str
    seq: int = 0
    stream: str = "default"
    frame_index: int = -1
    track: int = -1
    t_capture_ns: int = 0
    stamps: dict[str, int] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def stamp(self, stage: str) -> Message:
        """Record that ``stage`` finished with this message now (monotonic clock)."""
        self.stamps[stage] = time.monotonic_ns()
        return self

    def derive(self, kind: str, arrays: dict[str, np.ndarray] | None = None,
               meta: dict[str, Any] | None = None, **changes: Any) -> Message:
        """A new message of ``kind`` that keeps this one's identity, timing and stamps."""
        fields = {"seq": self.seq, "stream": self.stream, "frame_index": self.frame_index,
                  "track": self.track,
                  "t_capture_ns": self.t_capture_ns, "stamps": dict(self.stamps)}
        fields.update(changes)
        return Message(kind=kind, arrays=arrays or {}, meta=meta or {}, **fields)


def encode(msg: Message) -> list[bytes | memoryview]:
    """Message → multipart frames (arrays become zero-copy buffers)."""
    specs, buffers = [], []
    for name, arr in msg.arrays.items():
        a = np.asarray(arr)
        if a.dtype.name not in DTYPES:
            raise MessageError(f"array '{name}' has unsupported dtype {a.dtype.name}")
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))  # the wire is little-endian
        specs.append([name, a.dtype.name, list(a.shape)])
        buffers.append(memoryview(a).cast("B") if a.size else b"")
    header = {"v": SCHEMA_VERSION, "kind": msg.kind, "stream": msg.stream, "seq": msg.seq,
              "frame_index": msg.frame_index, "track": msg.track, "t_capture_ns": msg.t_capture_ns,
              "stamps": [[stage, t] for stage, t in msg.stamps.items()],
              "arrays": specs, "meta": msg.meta}
    return [msgpack.packb(header, use_bin_type=True), *buffers]


def _check_header(h: Any, n_buffers: int) -> None:
    if not isinstance(h, dict):
        raise MessageError("header is not a map")
    if h.get("v") != SCHEMA_VERSION:
        raise MessageError(f"schema version {h.get('v')!r}, expected {SCHEMA_VERSION}")
    for key, typ in (("kind", str), ("stream", str), ("seq", int), ("frame_index", int),
                     ("track", int), ("t_capture_ns", int), ("stamps", list), ("arrays", list),
                     ("meta", dict)):
        if not isinstance(h.get(key), typ):
            raise MessageError(f"header field '{key}' missing or not {typ.__name__}")
    for pair in h["stamps"]:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                and isinstance(pair[1], int) and not isinstance(pair[1], bool)):
            raise MessageError(f"header field 'stamps': {str(pair)[:80]} is not [stage, ns] (ns an integer)")
    if len(h["arrays"]) != n_buffers:
        raise MessageError(f"header lists {len(h['arrays'])} arrays but {n_buffers} buffers came")


def array_bytes(shape: Sequence[int], dtype: str) -> int:
    """Bytes an array of ``shape`` and ``dtype`` takes, in Python integers (never overflows)."""
    n = np.dtype(dtype).itemsize
    for d in shape:
        n *= int(d)
    return n


def decode(frames: Sequence[bytes | memoryview | Any]) -> Message:
    """Multipart frames → Message; raises :class:`MessageError` for anything malformed."""
    if not frames:
        raise MessageError("empty multipart message")
    raw = [f.buffer if hasattr(f, "buffer") else f for f in frames]
    if len(memoryview(raw[0])) > MAX_HEADER_BYTES:
        raise MessageError(f"header over {MAX_HEADER_BYTES} bytes")
    try:
        header = msgpack.unpackb(raw[0], raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several types for garbage
        raise MessageError(f"header is not msgpack ({type(exc).__name__})") from exc
    _check_header(header, len(raw) - 1)
    arrays = {}
    for spec, buf in zip(header["arrays"], raw[1:], strict=True):
        if not (isinstance(spec, list) and len(spec) == 3):
            raise MessageError("array spec must be [name, dtype, shape]")
        name, dtype, shape = spec
        if not isinstance(name, str) or dtype not in DTYPES or not isinstance(shape, list) or \
                len(shape) > MAX_DIMS or \
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise MessageError(f"bad array spec {str(spec)[:200]}")
        if name in arrays:
            raise MessageError(f"array '{name[:40]}' listed twice")
        expected = array_bytes(shape, dtype)
        if expected > MAX_ARRAY_BYTES:
            raise MessageError(f"array '{name[:40]}' shape {str(shape)[:120]} needs {expected} "
                               f"bytes, over the {MAX_ARRAY_BYTES} limit")
        if len(memoryview(buf)) != expected:
            raise MessageError(f"array '{name}' has {len(memoryview(buf))} bytes, spec needs {expected}")
        arrays[name] = np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    return Message(kind=header["kind"], seq=header["seq"], stream=header["stream"],
                   frame_index=header["frame_index"], track=header["track"],
                   t_capture_ns=header["t_capture_ns"], stamps=dict(header["stamps"]),
                   arrays=arrays, meta=header["meta"])


def content_time(msg: Message) -> float:
    """Seconds on the clock temporal filters should follow: the video's own time for files and
    folders (``meta["t_media"]``), else the capture time (cameras)."""
    t = msg.meta.get("t_media")
    return float(t) if t is not None else msg.t_capture_ns / 1e9
