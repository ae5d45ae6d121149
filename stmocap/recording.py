"""``listen --record``: what arrives is written as it arrives, and finalised atomically.

While streaming, every message is appended to ``OUT.npz.partial`` (a flushed sequence of records;
each is a small JSON header followed by ``.npy`` arrays), so whatever arrived before a crash, a
kill or a full disk stays on disk and readable (:func:`read_partial`). At the end the records are
gathered into ``OUT.npz`` through a temporary file in the same folder and ``os.replace`` (never a
half-written ``.npz``), then the partial file is removed. ``python -m stmocap.recording
OUT.npz.partial`` finalises a partial file left by an interrupted recording.

The ``.npz`` holds, per pose (stacked over poses): every array of the pose message, the header
fields ``seq``, ``track``, ``t_capture_ns`` (and any other integer header field), and every
numeric ``meta`` entry; ``vertices (N, V, 3)`` from the mesh topic and ``faces (F, 3)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from stmocap.files import temporary_beside

MAGIC = b"STMOCAP-RECORD-1\n"
PARTIAL_SUFFIX = ".partial"


class RecordError(OSError):
    """The recording cannot be written; the message names the path and what was kept."""


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def check_destination(path: Path) -> None:
    """Fail before streaming if ``path`` cannot become the recording (wrong suffix, a folder, a
    missing or read-only folder, a partial file of an earlier recording in the way)."""
    if path.is_dir():
        raise RecordError(f"--record {path} is a folder; give a file name such as {path / 'take.npz'}")
    if path.suffix.lower() != ".npz":
        raise RecordError(f"--record {path}: the recording is a .npz file; name it e.g. {path.name}.npz")
    folder = path.parent
    if not folder.is_dir():
        raise RecordError(f"--record {path}: folder {folder} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise RecordError(f"--record {path}: cannot write in {folder} ({exc.strerror or exc})") from exc
    if partial_path(path).exists():
        raise RecordError(f"{partial_path(path)} exists (an interrupted recording): finalise it with "
                          f"`python -m stmocap.recording {partial_path(path)}` or move it away")


def header_fields(msg: Any) -> dict[str, np.ndarray]:
    """The numeric header of a received message: its integer fields (``seq``, ``track``,
    ``t_capture_ns``, …) and every numeric ``meta`` entry (lists of numbers included)."""
    out: dict[str, np.ndarray] = {}
    if dataclasses.is_dataclass(msg):
        for f in dataclasses.fields(msg):
            value = getattr(msg, f.name)
            if isinstance(value, int) and not isinstance(value, bool):
                out[f.name] = np.int64(value)
    for key, value in (getattr(msg, "meta", None) or {}).items():
        if key in out or key in getattr(msg, "arrays", {}):
            continue
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            continue
        if arr.dtype.kind in "biuf":
            out[key] = arr
    return out


def _write_record(fh: BinaryIO, kind: str, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    names = list(arrays)
    head = json.dumps({"kind": kind, "keys": names}).encode()
    buf.write(struct.pack("<I", len(head)) + head)
    for name in names:
        np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
    data = buf.getvalue()
    fh.write(struct.pack("<Q", len(data)) + data)  # one write: a record is whole or cut at the end


def read_partial(path: Path) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """The records of a partial recording, in order; a record cut short (the process was killed
    or the disk filled while writing it) ends the iteration."""
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise RecordError(f"{path} is not a stmocap partial recording")
        while len(size := fh.read(8)) == 8:
            (n,) = struct.unpack("<Q", size)
            data = fh.read(n)
            if len(data) < n:
                return
            buf = io.BytesIO(data)
            (hn,) = struct.unpack("<I", buf.read(4))
            head = json.loads(buf.read(hn))
            yield head["kind"], {k: np.lib.format.read_array(buf, allow_pickle=False)
                                 for k in head["keys"]}


def gather(records: Iterator[tuple[str, dict[str, np.ndarray]]]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Stack pose records key by key (keys in every pose with one shape), meshes into
    ``vertices``, the last ``faces``; returns the arrays and the keys left out."""
    poses: list[dict[str, np.ndarray]] = []
    meshes: list[np.ndarray] = []
    faces: np.ndarray | None = None
    for kind, arrays in records:
        if kind == "pose":
            poses.append(arrays)
        elif kind == "mesh":
            meshes.append(arrays["vertices"])
        elif kind == "faces":
            faces = arrays["faces"]
    out: dict[str, np.ndarray] = {}
    left_out: list[str] = []
    keys = list(dict.fromkeys(k for p in poses for k in p))
    for key in keys:
        values = [p.get(key) for p in poses]
        if any(v is None for v in values) or len({v.shape for v in values}) > 1:  # type: ignore[union-attr]
            left_out.append(key)
            continue
        out[key] = np.stack(values)  # type: ignore[arg-type]
    if meshes and len({m.shape for m in meshes}) == 1:
        out["vertices"] = np.stack(meshes)
    if faces is not None:
        out["faces"] = faces
    return out, left_out


def finalise(partial: Path, path: Path) -> tuple[int, list[str]]:
    """Write ``path`` (.npz) from ``partial`` atomically, then remove ``partial``; returns the
    number of poses and the keys left out. On failure ``partial`` is kept."""
    out, left_out = gather(read_partial(partial))
    tmp = None
    try:
        tmp = temporary_beside(path, f".{path.name}.", ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **out)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise RecordError(f"cannot write the recording {path} ({exc.strerror or exc}); everything "
                          f"received is kept in {partial}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)
    return (len(out["seq"]) if "seq" in out else 0), left_out


class Recorder:
    """Append messages to ``PATH.partial`` as they arrive; :meth:`finish` writes ``PATH``."""

    def __init__(self, path: Path) -> None:
        check_destination(path)
        self.path = path
        self.partial = partial_path(path)
        self.poses = 0
        try:
            self.fh: BinaryIO = open(self.partial, "xb")  # noqa: SIM115 - kept open while streaming
            self.fh.write(MAGIC)
            self.fh.flush()
        except OSError as exc:
            raise RecordError(f"cannot create {self.partial} ({exc.strerror or exc})") from exc

    def add(self, kind: str, arrays: dict[str, np.ndarray]) -> None:
        """Append one record and hand it to the OS (it survives this process being killed)."""
        try:
            _write_record(self.fh, kind, arrays)
            self.fh.flush()
        except OSError as exc:
            raise RecordError(f"cannot write {self.partial} ({exc.strerror or exc}); the "
                              f"{self.poses} poses before are kept in it") from exc
        if kind == "pose":
            self.poses += 1

    def close(self) -> None:
        # A failed flush of the last record leaves it cut short; read_partial drops it.
        with contextlib.suppress(OSError):
            self.fh.close()

    def finish(self) -> tuple[int, list[str]]:
        """Close the partial file and finalise it into ``path``."""
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
        except OSError as exc:
            self.close()
            raise RecordError(f"cannot write {self.partial} ({exc.strerror or exc}); the poses "
                              "received before are kept in it") from exc
        self.close()
        return finalise(self.partial, self.path)


def main(argv: list[str] | None = None) -> int:
    """``python -m stmocap.recording OUT.npz.partial``: finalise an interrupted recording."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].endswith(PARTIAL_SUFFIX):
        print("usage: python -m stmocap.recording OUT.npz.partial", file=sys.stderr)
        return 2
    partial = Path(args[0])
    target = partial.with_name(partial.name[: -len(PARTIAL_SUFFIX)])
    try:
        poses, left_out = finalise(partial, target)
        if left_out:
            print(f"not saved (not in every pose or varying shape): {', '.join(left_out)}",
                  file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"recorded {poses} poses to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
