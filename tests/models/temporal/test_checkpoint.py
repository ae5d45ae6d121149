"""Temporal checkpoints carry their config; wrong files are named in one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from stmocap.engines.artifact import read_sidecar, sha256_file
from stmocap.export.catalog import build_model
from stmocap.export.onnx_export import export_onnx
from stmocap.models.temporal.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from stmocap.models.temporal.config import TINY
from stmocap.models.temporal.network import TemporalNet


def test_round_trip_keeps_config_and_weights(tmp_path: Path) -> None:
    cfg = replace(TINY, lstm_hidden=24, nssm="dot")
    net = TemporalNet(cfg).eval()
    path = save_checkpoint(net, tmp_path / "t.pt")
    back = load_checkpoint(path)
    assert back.cfg == cfg
    for (k, a), (_, b) in zip(net.state_dict().items(), back.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_export_from_checkpoint_records_its_hash(tmp_path: Path) -> None:
    path = save_checkpoint(TemporalNet(TINY), tmp_path / "t.pt")
    built = build_model("temporal", "tiny", path)
    meta = export_onnx(built, tmp_path / "t.onnx")
    assert meta.source_sha256 == sha256_file(path) == read_sidecar(tmp_path / "t.onnx").source_sha256


def test_wrong_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        load_checkpoint(junk)
    lightning = tmp_path / "epoch=35-step=1000000.ckpt"  # an HMR2.0-style Lightning file
    torch.save({"state_dict": {"backbone.x": torch.zeros(1)}, "epoch": 35}, lightning)
    with pytest.raises(CheckpointError, match="not a stmocap temporal checkpoint"):
        load_checkpoint(lightning)
    bad = tmp_path / "bad.pt"
    net = TemporalNet(TINY)
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("refiner")}
    torch.save({"format": "stmocap-temporal", "version": 1, "config": TINY.__dict__,
                "state_dict": state}, bad)
    with pytest.raises(CheckpointError, match="does not fit its own config"):
        load_checkpoint(bad)
