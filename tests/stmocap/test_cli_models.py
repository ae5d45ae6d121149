"""``stmocap models``: listing, and one line per wrong, truncated or mismatched file."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.checkpoints import FILES, ModelFile, check_file, files_for, sha256_of

from stmocap.cli import main


def _file(key: str) -> ModelFile:
    return next(f for f in FILES if f.key == key)


def test_lists_both_profiles_with_sources_and_status(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["models", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "profile lite:" in out and "profile paper:" in out
    for f in FILES:
        assert f.key in out
    assert "dl.fbaipublicfiles.com/densepose/cse/densepose_rcnn_R_101_FPN_DL_soft_s1x" in out
    assert "4D-Humans" in out
    # Shipped files are found; the user's are not (an empty folder).
    assert out.count("MISSING") == sum(f.required for f in files_for("paper"))
    assert "found" in out.split("profile paper:")[0]


def test_shipped_files_verify(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["models", "--profile", "lite", "--check"]) == 0
    assert capsys.readouterr().out.count("ok (checked)") == len(files_for("lite"))


def test_missing_required_file_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["models", "--profile", "paper", "--check", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    required = [f for f in files_for("paper") if f.required]
    assert len(err) == len(required)
    for line, f in zip(err, required, strict=True):
        assert line.startswith("stmocap: error: ") and str(f.path(None, tmp_path)) in line
        assert line.endswith("not found")


def test_truncated_torch_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {"w": torch.randn(64, 64)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    status = check_file(replace(_file("temporal"), verify=None), path)
    assert status.found and "truncated" in status.problem
    assert status.line().startswith(f"{path}: ")


def test_truncated_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"model": {"w": np.zeros((100, 100), np.float32)}}, protocol=4)[:5000])
    status = check_file(replace(_file("densepose-cse"), verify=None), path)
    assert "truncated or damaged pickle" in status.problem


def test_wrong_kind_of_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_text("<html>404 not found</html>")
    assert "not a Python pickle" in check_file(replace(_file("densepose-cse"), verify=None), path).problem
    assert "not a zip archive" in check_file(replace(_file("hmr2"), verify=None), path).problem


def test_sha256_mismatch(tmp_path: Path) -> None:
    shipped = _file("free-body")
    copy = tmp_path / "free_body.npz"
    data = bytearray(Path(shipped.default).read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    status = check_file(shipped, copy)
    assert "differs from the expected" in status.problem and status.sha256 == sha256_of(copy)


def test_temporal_checkpoint_of_another_model_is_named(tmp_path: Path) -> None:
    path = tmp_path / "paper.pt"
    torch.save({"state_dict": {"backbone.w": torch.zeros(2)}}, path)
    status = check_file(_file("temporal"), path)
    assert "not a stmocap temporal checkpoint" in status.problem


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        files_for("huge")
