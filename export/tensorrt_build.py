"""ONNX → TensorRT / TensorRT-RTX engines, cached on disk by what makes an engine valid.

The cache key hashes (library and version, GPU name and compute capability, ONNX sha256, the
optimisation profile and the precision); a change in any of them gives a new file, so a stale
engine is never loaded. TensorRT-RTX builds without a GPU (CI checks every exported model that
way); TensorRT 10 needs a CUDA GPU to build.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from stmocap.engines.artifact import ArtifactMeta, Precision, read_sidecar, verify, write_sidecar
from stmocap.engines.base import EngineError
from stmocap.engines.tensorrt_backend import import_tensorrt
from stmocap.export.onnx_export import library_versions

Library = Literal["tensorrt", "tensorrt-rtx"]


def default_cache_dir() -> Path:
    """``$STMOCAP_CACHE/engines``, else ``~/.cache/stmocap/engines``."""
    root = os.environ.get("STMOCAP_CACHE") or Path.home() / ".cache" / "stmocap"
    return Path(root) / "engines"


@dataclass(frozen=True)
class BuildOptions:
    """How to build an engine from an ONNX file."""

    library: Library = field(default="tensorrt", metadata={"help": "tensorrt or tensorrt-rtx"})
    precision: Precision = field(default="fp32", metadata={"help": "fp32 or fp16"})
    min_batch: int = field(default=1, metadata={"help": "smallest batch the engine accepts"})
    opt_batch: int = field(default=4, metadata={"help": "batch the engine is tuned for"})
    max_batch: int = field(default=16, metadata={"help": "largest batch the engine accepts"})
    workspace_mb: int = field(default=4096, metadata={"help": "builder workspace limit (MiB)"})
    cache_dir: Path | None = field(default=None, metadata={"help": "engine cache folder"})

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError("need 1 <= min_batch <= opt_batch <= max_batch")


def gpu_identity() -> tuple[str, str]:
    """(GPU name, compute capability) of CUDA device 0, or ``("none", "")`` without one."""
    import torch

    if not torch.cuda.is_available():
        return "none", ""
    major, minor = torch.cuda.get_device_capability(0)
    return torch.cuda.get_device_name(0), f"{major}.{minor}"


def cache_key(onnx_sha256: str, options: BuildOptions, library_version: str, gpu: str,
              capability: str) -> str:
    """Hex digest naming one engine build; any input changing gives another engine."""
    record = {"onnx": onnx_sha256, "library": options.library, "version": library_version,
              "gpu": gpu, "cc": capability, "precision": options.precision,
              "profile": [options.min_batch, options.opt_batch, options.max_batch]}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _progress_monitor(trt: Any) -> Any:
    """A builder progress monitor that prints each phase (TensorRT ≥ 10 / TensorRT-RTX)."""
    if not hasattr(trt, "IProgressMonitor"):
        return None

    class Monitor(trt.IProgressMonitor):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.start: dict[str, float] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.start[phase_name] = time.perf_counter()
            if parent_phase is None:  # nested phases repeat per layer: too chatty to print
                print(f"  {phase_name}…", file=sys.stderr, flush=True)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # never cancel

        def phase_finish(self, phase_name: str) -> None:
            dt = time.perf_counter() - self.start.pop(phase_name, time.perf_counter())
            if dt > 1.0:
                print(f"  {phase_name} done in {dt:.1f} s", file=sys.stderr, flush=True)

    return Monitor()


def build_engine(onnx_path: Path, options: BuildOptions, progress: bool = True) -> Path:
    """Build (or reuse from the cache) an engine for ``onnx_path``; returns the engine file.

    Every dynamic (named) dimension gets the profile ``min/opt/max_batch``.
    """
    onnx_path = Path(onnx_path)
    onnx_meta = read_sidecar(onnx_path)
    verify(onnx_path, onnx_meta)
    trt = import_tensorrt(options.library)
    gpu, capability = gpu_identity()
    if options.library == "tensorrt" and gpu == "none":
        raise EngineError("TensorRT builds engines on the GPU that will run them, and torch sees "
                          "no CUDA GPU here (TensorRT-RTX can build without one: --to tensorrt-rtx)")
    if gpu == "none":
        gpu = "none (portable TensorRT-RTX build)"
    precision = options.precision
    if options.library == "tensorrt-rtx" and precision != onnx_meta.precision:
        raise EngineError(f"TensorRT-RTX builds strongly typed networks: export the ONNX in "
                          f"{precision} (`stmocap export --precision {precision}`)")
    key = cache_key(onnx_meta.file_sha256, options, trt.__version__, gpu, capability)
    cache = options.cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    name = f"{onnx_meta.model}-{onnx_meta.preset}.{options.library}.{precision}.{key[:12]}.engine"
    engine_path = cache / name
    if engine_path.is_file():
        try:
            verify(engine_path, read_sidecar(engine_path), {"build_key": key})
            return engine_path
        except EngineError:
            engine_path.unlink()  # half-written or tampered: rebuild

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    t0 = time.perf_counter()
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(parser.get_error(i).desc() for i in range(parser.num_errors))
        raise EngineError(f"{options.library} cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    if precision == "fp16" and options.library == "tensorrt" and onnx_meta.precision == "fp32":
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for spec in onnx_meta.inputs:
        def shape(n: int, spec=spec) -> tuple[int, ...]:
            return tuple(n if isinstance(d, str) else d for d in spec.shape)

        profile.set_shape(spec.name, shape(options.min_batch), shape(options.opt_batch),
                          shape(options.max_batch))
    config.add_optimization_profile(profile)
    # Tactic timings are per GPU; a portable build without a GPU times nothing.
    timing_path = cache / f"timing-{options.library}-{trt.__version__}-{capability}.cache"
    if capability:
        blob = timing_path.read_bytes() if timing_path.is_file() else b""
        config.set_timing_cache(config.create_timing_cache(blob), ignore_mismatch=True)
    monitor = _progress_monitor(trt) if progress else None
    if monitor is not None:
        config.progress_monitor = monitor
    if progress:
        print(f"building {options.library} {precision} engine for {onnx_path.name} "
              f"(batch {options.min_batch}/{options.opt_batch}/{options.max_batch})…",
              file=sys.stderr, flush=True)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"{options.library} failed to build an engine for {onnx_path.name} "
                          "(see the log above)")
    tmp = engine_path.with_suffix(".partial")
    tmp.write_bytes(bytes(serialized))
    tmp.replace(engine_path)
    if capability:
        timing_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    meta = replace(onnx_meta, kind=options.library, precision=precision, gpu=gpu,
                   onnx_sha256=onnx_meta.file_sha256, build_key=key, versions=library_versions(),
                   file_sha256="")
    write_sidecar(engine_path, meta)
    if progress:
        print(f"built {engine_path.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return engine_path


def list_engines(cache_dir: Path | None = None) -> list[tuple[Path, ArtifactMeta | None]]:
    """Engines in the cache with their metadata (``None`` where the sidecar is unreadable)."""
    cache = cache_dir or default_cache_dir()
    out = []
    for path in sorted(cache.glob("*.engine")):
        try:
            out.append((path, read_sidecar(path)))
        except EngineError:
            out.append((path, None))
    return out

