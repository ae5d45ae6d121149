"""Metadata that travels with every exported artifact (ONNX model, TensorRT engine).

Each artifact ``X`` has a sidecar ``X.meta.json`` (and ONNX files also carry the same record in
``metadata_props`` under the key ``stmocap``). Loading compares the record with what the caller
needs and with the file itself, and refuses a mismatch with one line that says what to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from stmocap.engines.base import EngineError, TensorSpec

ArtifactKind = Literal["onnx", "tensorrt", "tensorrt-rtx"]
Precision = Literal["fp32", "fp16"]
FORMAT_VERSION = 1


class ArtifactMismatchError(EngineError):
    """An artifact does not fit the run that wants it (other model, window, precision, file)."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sidecar_path(artifact: Path) -> Path:
    return Path(str(artifact) + ".meta.json")


@dataclass(frozen=True)
class ArtifactMeta:
    """What an artifact is and how it was made.

    Attributes:
        model: catalogue name (``temporal``, ``body`` …); ``preset`` its size (``tiny``, ``full``).
        kind: ``onnx``, ``tensorrt`` or ``tensorrt-rtx``.
        inputs, outputs: tensor specs (string dims are dynamic).
        precision: ``fp32`` or ``fp16``.
        window: frames per window for temporal models, else ``None``.
        source_sha256: SHA-256 of the checkpoint the weights came from, or ``random-weights``.
        config: the model configuration that built it.
        versions: library versions at export/build time.
        gpu: device the engine was built for (``None`` for ONNX).
        file_sha256: SHA-256 of the artifact file (filled when written).
        onnx_sha256: for engines, the ONNX file they were built from.
        parity: ONNX Runtime vs PyTorch errors when checked.
        build_key: the engine-cache key (engines only).
    """

    model: str
    preset: str
    kind: ArtifactKind
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    precision: Precision = "fp32"
    window: int | None = None
    source_sha256: str = "random-weights"
    config: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    gpu: str | None = None
    file_sha256: str = ""
    onnx_sha256: str = ""
    parity: Mapping[str, Any] | None = None
    build_key: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["inputs"] = [s.to_json() for s in self.inputs]
        d["outputs"] = [s.to_json() for s in self.outputs]
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ArtifactMeta:
        d = dict(d)
        if d.get("format_version") != FORMAT_VERSION:
            raise ArtifactMismatchError(
                f"artifact metadata format {d.get('format_version')} is not {FORMAT_VERSION}: "
                "re-export it with this stmocap version")
        d["inputs"] = tuple(TensorSpec.from_json(s) for s in d["inputs"])
        d["outputs"] = tuple(TensorSpec.from_json(s) for s in d["outputs"])
        return cls(**d)

    def with_file(self, artifact: Path) -> ArtifactMeta:
        return replace(self, file_sha256=sha256_file(artifact))


def write_sidecar(artifact: Path, meta: ArtifactMeta) -> ArtifactMeta:
    """Hash ``artifact`` into ``meta`` and write ``artifact.meta.json``; return the stored record."""
    meta = meta.with_file(artifact)
    sidecar_path(artifact).write_text(json.dumps(meta.to_json(), indent=1, sort_keys=True) + "\n")
    return meta


def read_sidecar(artifact: Path) -> ArtifactMeta:
    """Read ``artifact.meta.json``; a missing or unreadable one is an :class:`ArtifactMismatchError`."""
    path = sidecar_path(artifact)
    try:
        return ArtifactMeta.from_json(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise ArtifactMismatchError(f"{artifact} has no {path.name}: re-export it with "
                                    "`stmocap export` so its metadata travels with it") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ArtifactMismatchError(f"{path} is not valid artifact metadata ({exc})") from exc


def verify(artifact: Path, meta: ArtifactMeta, expect: Mapping[str, Any] | None = None,
           check_hash: bool = True) -> None:
    """Refuse ``artifact`` if its file changed since export or ``meta`` differs from ``expect``.

    ``expect`` maps metadata fields (``model``, ``preset``, ``window``, ``precision``,
    ``source_sha256`` …) to the values the caller needs.
    """
    if check_hash and meta.file_sha256 and sha256_file(artifact) != meta.file_sha256:
        raise ArtifactMismatchError(f"{artifact} does not match its {sidecar_path(artifact).name} "
                                    "(file changed after export): re-export it")
    for key, want in (expect or {}).items():
        have = getattr(meta, key)
        if have != want:
            raise ArtifactMismatchError(
                f"{artifact.name} was made with {key}={have!r} but this run needs {want!r}: "
                f"re-export with `stmocap export --model {meta.model}` for these settings")
