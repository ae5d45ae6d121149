"""Metadata that travels with every exported artifact (ONNX model, TensorRT engine).

Each artifact ``X`` has a sidecar ``X.meta.json`` (and ONNX files also carry the same record in
``metadata_props`` under the key ``stmocap``). The sidecar records the SHA-256 of every file the
artifact is made of (``X`` and, for ONNX, its external weights such as ``X.data``). Loading
compares the record with what the caller needs and with every file, and refuses a mismatch with
one line that says how to rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from stmocap.engines.base import EngineError, TensorSpec

ArtifactKind = Literal["onnx", "tensorrt", "tensorrt-rtx"]
Precision = Literal["fp32", "fp16"]
FORMAT_VERSION = 2  # 2: ``files`` records every file's hash (1 covered only the main file)


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


def artifact_files(artifact: Path) -> list[Path]:
    """``artifact`` and every file it needs beside it: an ONNX model's external data files (read
    from the model's initializers; ``X.data`` if onnx is not installed). Paths in order, unique."""
    artifact = Path(artifact)
    files = [artifact]
    if artifact.suffix == ".onnx":
        locations: set[str] = set()
        try:
            import onnx

            model = onnx.load(str(artifact), load_external_data=False)
            for tensor in model.graph.initializer:
                if tensor.data_location == onnx.TensorProto.EXTERNAL:
                    locations |= {e.value for e in tensor.external_data if e.key == "location"}
        except Exception:  # onnx missing, or a file it cannot parse: the usual name, if present
            if Path(str(artifact) + ".data").exists():
                locations.add(artifact.name + ".data")
        files += [artifact.parent / loc for loc in sorted(locations)]
    return files


def rebuild_hint(artifact: Path, model: str) -> str:
    """How to get a good copy of ``artifact`` back, for the one-line errors."""
    return (f"re-export it with `stmocap export --model {model}`, or, if it is in stmocap's cache, "
            f"delete {Path(artifact).parent} and the next run rebuilds it")


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
        files: SHA-256 of every file of the artifact, by name relative to its folder (the file
            itself and, for ONNX, its external data; filled when written).
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
    files: Mapping[str, str] = field(default_factory=dict)
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
        artifact = Path(artifact)
        files = {str(f.relative_to(artifact.parent)): sha256_file(f)
                 for f in artifact_files(artifact)}
        return replace(self, file_sha256=files[artifact.name], files=files)


def write_sidecar(artifact: Path, meta: ArtifactMeta) -> ArtifactMeta:
    """Hash ``artifact`` into ``meta`` and write ``artifact.meta.json``; return the stored record."""
    meta = meta.with_file(artifact)
    path = sidecar_path(artifact)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")  # renamed: never read half-written
    tmp.write_text(json.dumps(meta.to_json(), indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
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


def verify_files(artifact: Path, meta: ArtifactMeta) -> None:
    """Refuse ``artifact`` unless every file recorded in ``meta.files`` (and every file it needs
    now) exists with the recorded SHA-256."""
    artifact = Path(artifact)
    hint = rebuild_hint(artifact, meta.model)
    sidecar = sidecar_path(artifact).name
    if not meta.files:
        raise ArtifactMismatchError(f"{sidecar} records no file hashes: {hint}")
    # The artifact itself first: the list of the other files comes from it.
    for name in sorted(meta.files, key=lambda n: (n != artifact.name, n)):
        path = artifact.parent / name
        if not path.is_file():
            raise ArtifactMismatchError(f"{path} is missing (the artifact needs it): {hint}")
        if sha256_file(path) != meta.files[name]:
            raise ArtifactMismatchError(f"{path} does not match the SHA-256 in {sidecar} (file "
                                        f"changed after export, or corrupted): {hint}")
    needed = {str(f.relative_to(artifact.parent)) for f in artifact_files(artifact)}
    for name in sorted(needed - set(meta.files)):
        raise ArtifactMismatchError(f"{artifact.parent / name} is not recorded in {sidecar}: {hint}")


def verify(artifact: Path, meta: ArtifactMeta, expect: Mapping[str, Any] | None = None,
           check_hash: bool = True) -> None:
    """Refuse ``artifact`` if its file changed since export or ``meta`` differs from ``expect``.

    ``expect`` maps metadata fields (``model``, ``preset``, ``window``, ``precision``,
    ``source_sha256`` …) to the values the caller needs.
    """
    if check_hash:
        verify_files(artifact, meta)
    for key, want in (expect or {}).items():
        have = getattr(meta, key)
        if have != want:
            raise ArtifactMismatchError(
                f"{artifact.name} was made with {key}={have!r} but this run needs {want!r}: "
                f"re-export with `stmocap export --model {meta.model}` for these settings")
