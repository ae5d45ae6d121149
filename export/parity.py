"""ONNX Runtime vs PyTorch on fresh random inputs: max-abs and relative error per output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stmocap.engines.base import EngineError
from stmocap.engines.onnxruntime_backend import OnnxRuntimeEngine
from stmocap.engines.torch_backend import TorchEngine
from stmocap.export.catalog import BuiltModel
from stmocap.export.onnx_export import example_inputs

# Relative error = max |onnx − torch| / max(max |torch|, SCALE_FLOOR) per output. fp32 graphs match
# to ~1e-6; fp16 keeps ~3 significant digits, and long reductions (LSTM, skinning) lose one more.
# The floor keeps outputs that are all ~0 on random inputs (a sigmoid flag at 1e-10) from turning
# float rounding into a "100 %" error: below it the comparison is effectively absolute.
THRESHOLDS = {"fp32": 1e-4, "fp16": 1e-2}
SCALE_FLOOR = 1e-3


class ParityError(EngineError):
    """An exported model disagrees with PyTorch beyond the precision's threshold."""


@dataclass(frozen=True)
class ParityResult:
    batch: int
    output: str
    max_abs: float
    relative: float


def check_parity(built: BuiltModel, onnx_path: Path, batch_sizes: tuple[int, ...] = (1, 3),
                 seed: int = 1234, precision: str = "fp32") -> list[ParityResult]:
    """Run both on random inputs (dynamic dims = each batch size); raise :class:`ParityError` if
    any output's relative error exceeds ``THRESHOLDS[precision]``. Returns every measurement."""
    ort_engine = OnnxRuntimeEngine(Path(onnx_path))
    ref_engine = TorchEngine(built.module, list(built.inputs), list(built.outputs))
    results = []
    dims = {d for s in built.inputs for d in s.shape if isinstance(d, str)}
    try:
        for i, b in enumerate(batch_sizes):
            xs = example_inputs(built.inputs, dict.fromkeys(dims, b), seed=seed + i,
                                ranges=built.input_range)
            feed = {s.name: x for s, x in zip(built.inputs, xs, strict=True)}
            ref = ref_engine(feed)
            got = ort_engine({s.name: x.to(s.torch_dtype) for s, x in
                              zip(ort_engine.inputs, xs, strict=True)})
            for spec in built.outputs:
                r = ref[spec.name].double()
                g = got[spec.name].double()
                max_abs = float((g - r).abs().max())
                scale = max(float(r.abs().max()), SCALE_FLOOR)
                results.append(ParityResult(b, spec.name, max_abs, max_abs / scale))
    finally:
        ort_engine.close()
    def limit(output: str) -> float:
        if precision == "fp32":
            return built.parity_tolerance.get(output, THRESHOLDS["fp32"])
        return max(THRESHOLDS[precision], built.parity_tolerance.get(output, 0.0))

    failed = [r for r in results if r.relative > limit(r.output)]
    if failed:
        worst = max(failed, key=lambda r: r.relative / limit(r.output))
        raise ParityError(f"{built.name} ONNX differs from PyTorch: output '{worst.output}' at batch "
                          f"{worst.batch} has relative error {worst.relative:.2e} > "
                          f"{limit(worst.output):.0e} (max-abs {worst.max_abs:.2e})")
    return results


def parity_summary(results: list[ParityResult]) -> dict[str, Any]:
    """Compact record for metadata: worst max-abs and relative error per output."""
    out: dict[str, Any] = {}
    for r in results:
        cur = out.setdefault(r.output, {"max_abs": 0.0, "relative": 0.0, "batches": []})
        cur["max_abs"] = max(cur["max_abs"], r.max_abs)
        cur["relative"] = max(cur["relative"], r.relative)
        cur["batches"].append(r.batch)
    return out
