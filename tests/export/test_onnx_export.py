"""Export → load → compare with PyTorch for every catalogue model; metadata inside the file."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from stmocap.engines.artifact import read_sidecar
from stmocap.export.catalog import CATALOG, build_model
from stmocap.export.onnx_export import OnnxOptions, export_onnx
from stmocap.export.parity import ParityError, check_parity, parity_summary


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_parity_with_pytorch_at_two_batch_sizes(exported, name: str) -> None:  # type: ignore[no-untyped-def]
    built, path = exported[name]
    results = check_parity(built, path, batch_sizes=(1, 3))
    assert {r.batch for r in results} == {1, 3}
    assert {r.output for r in results} == {s.name for s in built.outputs}
    assert all(r.relative < built.parity_tolerance.get(r.output, 1e-4) for r in results)
    summary = parity_summary(results)
    assert set(summary) == {s.name for s in built.outputs}


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_metadata_inside_and_beside(exported, name: str) -> None:  # type: ignore[no-untyped-def]
    built, path = exported[name]
    model = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["model"] == name and props["precision"] == "fp32"
    inside = json.loads(props["stmocap"])
    beside = read_sidecar(path)
    assert inside["model"] == beside.model == name
    assert beside.source_sha256 == "random-weights-seed0" or len(beside.source_sha256) == 64 or \
        beside.source_sha256.startswith("blazepose-")
    assert beside.versions["torch"] and beside.versions["onnx"]
    assert len(beside.file_sha256) == 64
    # The batch axis is dynamic and named; other axes are fixed.
    first = model.graph.input[0].type.tensor_type.shape.dim
    assert first[0].dim_param == "batch"
    assert all(d.dim_value > 0 for d in first[1:])
    if built.window:
        assert props["window"] == str(built.window) == "16"
    else:
        assert props["window"] == "None"


def test_fp16_export_within_fp16_threshold(tmp_path: Path) -> None:
    built = build_model("temporal", "tiny")
    path = tmp_path / "t16.onnx"
    meta = export_onnx(built, path, OnnxOptions(precision="fp16"))
    assert meta.precision == "fp16" and all(s.dtype == "float16" for s in meta.inputs)
    results = check_parity(built, path, precision="fp16")
    assert 0 < max(r.relative for r in results) < 1e-2


def test_parity_failure_is_reported(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    _, path = exported["temporal"]
    other = build_model("temporal", "tiny")
    with torch.no_grad():  # different weights: the ONNX file no longer matches
        for p in other.module.parameters():
            p.add_(0.5)
    with pytest.raises(ParityError, match="relative error"):
        check_parity(other, path)


def test_opset_range() -> None:
    with pytest.raises(ValueError, match=r"opset must be in 17\.\.20"):
        OnnxOptions(opset=13)


@pytest.mark.slow
def test_full_size_temporal_parity(tmp_path: Path) -> None:
    built = build_model("temporal", "full")
    path = tmp_path / "temporal-full.onnx"
    export_onnx(built, path)
    results = check_parity(built, path, batch_sizes=(1, 2))
    assert max(r.relative for r in results) < 1e-4
