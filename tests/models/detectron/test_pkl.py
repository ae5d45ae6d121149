"""Model-zoo .pkl round trip and the strict loader's one-line errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.detectron.checkpoint import CheckpointError, load_pkl, upstream_state
from stmocap.models.detectron.config import TINY
from stmocap.models.detectron.detector import FasterRCNN
from stmocap.models.detectron.pkl import PklError, read_pkl, write_pkl


def _model(seed: int) -> FasterRCNN:
    torch.manual_seed(seed)
    m = FasterRCNN(TINY)
    for b in m.buffers():  # make the frozen-BN tensors distinguishable too
        b.copy_(torch.rand_like(b) + 0.5)
    return m


def test_round_trip_in_upstream_layout(tmp_path: Path) -> None:
    src = _model(0)
    path = tmp_path / "model_final.pkl"
    write_pkl(path, upstream_state(src))
    with path.open("rb") as f:  # the layout detectron2's DetectionCheckpointer reads
        raw = pickle.load(f)
    assert set(raw) == {"model", "__author__", "matching_heuristics"}
    assert all(isinstance(v, np.ndarray) for v in raw["model"].values())
    dst = _model(1)
    report = load_pkl(dst, path)
    assert report.ok and not report.ignored and not report.not_ours
    for (k, a), (k2, b) in zip(src.state_dict().items(), dst.state_dict().items(), strict=True):
        assert k == k2
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_densepose_keys_are_not_ours_and_anchors_ignored(tmp_path: Path) -> None:
    state = upstream_state(_model(0))
    state["roi_heads.decoder.scale_heads.0.0.weight"] = np.zeros((4, 4, 3, 3), np.float32)
    state["roi_heads.densepose_head.body_conv_fcn1.weight"] = np.zeros((4,), np.float32)
    state["roi_heads.embedder.embedder_smpl_27554.features"] = np.zeros((5, 3), np.float32)
    state["proposal_generator.anchor_generator.cell_anchors.0"] = np.zeros((3, 4), np.float32)
    path = tmp_path / "dp.pkl"
    write_pkl(path, state)
    report = load_pkl(_model(1), path)
    assert report.ok
    assert len(report.not_ours) == 3
    assert report.ignored == ("proposal_generator.anchor_generator.cell_anchors.0",)


def _errors(tmp_path: Path, state: dict[str, np.ndarray]) -> list[str]:
    path = tmp_path / "bad.pkl"
    write_pkl(path, state)
    with pytest.raises(CheckpointError) as e:
        load_pkl(_model(1), path)
    lines = str(e.value).splitlines()
    assert all(line.startswith(str(path)) for line in lines)
    return lines


def test_missing_extra_and_wrong_shape_one_line_each(tmp_path: Path) -> None:
    state = upstream_state(_model(0))
    del state["backbone.fpn_output3.weight"]
    (line,) = _errors(tmp_path, state)
    assert "1 missing keys: backbone.fpn_output3.weight" in line

    state = upstream_state(_model(0))
    state["roi_heads.mask_head.x"] = np.zeros(1, np.float32)
    (line,) = _errors(tmp_path, state)
    assert "1 unexpected keys: roi_heads.mask_head.x" in line

    state = upstream_state(_model(0))
    state["roi_heads.box_predictor.cls_score.weight"] = np.zeros((81, TINY.fc_dim), np.float32)
    (line,) = _errors(tmp_path, state)
    assert "wrong shape" in line and "(81, 32) vs ours (2, 32)" in line

    del state["backbone.fpn_output3.weight"]
    state["extra"] = np.zeros(1, np.float32)
    assert len(_errors(tmp_path, state)) == 3


def test_non_strict_reports_and_loads_the_rest(tmp_path: Path) -> None:
    state = upstream_state(_model(0))
    del state["backbone.fpn_output3.weight"]
    path = tmp_path / "partial.pkl"
    write_pkl(path, state)
    dst = _model(1)
    report = load_pkl(dst, path, strict=False)
    assert report.missing == ("backbone.fpn_output3.weight",) and not report.ok
    torch.testing.assert_close(dst.state_dict()["backbone.fpn_lateral2.weight"],
                               torch.from_numpy(state["backbone.fpn_lateral2.weight"]))


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("pwned",))


def test_unpickler_refuses_other_globals(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    with path.open("wb") as f:
        pickle.dump({"model": {"a": _Evil()}}, f)
    with pytest.raises(PklError, match=r"evil\.pkl: .*builtins\.print is not allowed"):
        read_pkl(path)


def test_bare_dict_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "bare.pkl"
    with path.open("wb") as f:
        pickle.dump({"w": np.ones(3, np.float32)}, f)
    ck = read_pkl(path)
    assert list(ck.model) == ["w"] and ck.author is None
    path.write_bytes(b"not a pickle")
    with pytest.raises(PklError, match=r"bare\.pkl: not a readable"):
        read_pkl(path)
