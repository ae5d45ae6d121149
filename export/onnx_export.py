"""PyTorch → ONNX with dynamic batch, fixed window, metadata inside and beside the file."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from stmocap.engines.artifact import ArtifactMeta, Precision, sidecar_path, write_sidecar
from stmocap.engines.base import TensorSpec
from stmocap.export.catalog import BuiltModel

from stmocap._version import __version__
from stmocap.optional import require

# Sizes used to trace dynamic dims; any value > 1 works (1 would be specialised by torch.export).
TRACE_SIZE = 2
MAX_DYNAMIC = 4096


@dataclass(frozen=True)
class OnnxOptions:
    """How to export to ONNX."""

    opset: int = field(default=18, metadata={"help": "ONNX opset (17-20)"})
    precision: Precision = field(default="fp32", metadata={"help": "fp32, or fp16 weights and I/O"})
    slim: bool = field(default=False, metadata={"help": "simplify the graph with onnxslim"})

    def __post_init__(self) -> None:
        if not 17 <= self.opset <= 20:
            raise ValueError(f"opset must be in 17..20, got {self.opset}")


def library_versions() -> dict[str, str]:
    """Versions that decide whether an artifact can be reused."""
    versions = {"stmocap": __version__, "torch": torch.__version__}
    for mod in ("onnx", "onnxruntime", "tensorrt", "tensorrt_rtx_bindings"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            continue
    return versions


def _specs_for_precision(specs: tuple[TensorSpec, ...], precision: Precision) -> tuple[TensorSpec, ...]:
    if precision == "fp32":
        return specs
    return tuple(replace(s, dtype="float16") if s.dtype == "float32" else s for s in specs)


def example_inputs(specs: tuple[TensorSpec, ...], sizes: dict[str, int], seed: int = 0,
                   ranges: dict[str, tuple[float, float]] | None = None) -> tuple[torch.Tensor, ...]:
    """Random tensors for ``specs`` with named dims set by ``sizes``: N(0, 1), or uniform in
    ``ranges[name]`` where given."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in specs:
        if ranges and s.name in ranges:
            lo, hi = ranges[s.name]
            x = lo + (hi - lo) * torch.rand(s.concrete(sizes), generator=g)
        else:
            x = torch.randn(s.concrete(sizes), generator=g)
        out.append(x.to(s.torch_dtype))
    return tuple(out)


def _dynamic_shapes(specs: tuple[TensorSpec, ...]) -> tuple[dict[int, Any], ...]:
    dims: dict[str, Any] = {}
    out = []
    for s in specs:
        axes = {}
        for i, d in enumerate(s.shape):
            if isinstance(d, str):
                dims.setdefault(d, torch.export.Dim(d, min=1, max=MAX_DYNAMIC))
                axes[i] = dims[d]
        out.append(axes)
    return tuple(out)


@contextlib.contextmanager
def _quiet_exporter(quiet: bool):  # type: ignore[no-untyped-def]
    """Silence the exporter's progress lines, warnings and logs (kept when ``quiet`` is False)."""
    if not quiet:
        yield
        return
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def export_onnx(built: BuiltModel, path: Path, options: OnnxOptions | None = None,
                quiet: bool = True) -> ArtifactMeta:
    """Export ``built.module`` to ``path`` and write ``path.meta.json``; return the metadata.

    Batch-like dims (named in the specs) are dynamic; the window and image sizes are fixed. The
    metadata record is also stored in the ONNX ``metadata_props`` (key ``stmocap``).
    """
    onnx = require("onnx", "onnx")
    require("onnxscript", "onnx", "torch's ONNX exporter needs it")
    options = options or OnnxOptions()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The sidecar is written last: until then no earlier export's record may vouch for new files.
    sidecar_path(path).unlink(missing_ok=True)
    module = built.module
    inputs = _specs_for_precision(built.inputs, options.precision)
    outputs = _specs_for_precision(built.outputs, options.precision)
    if options.precision == "fp16":
        module = copy.deepcopy(module).half()
    names = {d for s in inputs for d in s.shape if isinstance(d, str)}
    args = example_inputs(inputs, dict.fromkeys(names, TRACE_SIZE))
    with _quiet_exporter(quiet), torch.no_grad():
        torch.onnx.export(
            module.eval(), args, str(path),
            input_names=[s.name for s in inputs], output_names=[s.name for s in outputs],
            dynamic_shapes=_dynamic_shapes(inputs), opset_version=options.opset, dynamo=True,
            verbose=False,
        )
    meta = ArtifactMeta(
        model=built.name, preset=built.preset, kind="onnx", inputs=inputs, outputs=outputs,
        precision=options.precision, window=built.window, source_sha256=built.source_sha256,
        config=built.config, versions=library_versions(),
    )
    model = onnx.load(str(path), load_external_data=False)
    if options.slim:
        slim = require("onnxslim", "onnx", "optional graph simplifier")
        model = slim.slim(model)
    record = json.dumps(meta.to_json(), sort_keys=True)
    for key, value in {"stmocap": record, "model": built.name, "preset": built.preset,
                       "precision": options.precision, "window": str(built.window)}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "stmocap"
    model.producer_version = __version__
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path))
    return write_sidecar(path, meta)
