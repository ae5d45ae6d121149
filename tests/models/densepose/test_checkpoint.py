"""Loader: upstream key layout, round trip through a model-zoo style .pkl, strict errors."""

from __future__ import annotations

import ast
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.densepose.checkpoint import (
    CSECheckpointError,
    check_cse_checkpoint,
    infer_config,
    load_cse_checkpoint,
    read_model_pkl,
    to_detectron2,
    write_model_pkl,
)
from stmocap.models.densepose.config import PRESETS, TINY
from stmocap.models.densepose.embedder import VertexEmbedder
from stmocap.models.densepose.model import DensePoseHead

KEYS_FILE = Path(__file__).parent / "data" / "d2_roi_head_keys.txt"
DETECTOR_KEYS = ("backbone.bottom_up.stem.conv1.weight", "proposal_generator.rpn_head.conv.weight",
                 "roi_heads.box_head.fc1.weight", "roi_heads.box_predictor.cls_score.bias")


def _d2_layout() -> dict[str, dict[str, tuple[int, ...]]]:
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    for line in KEYS_FILE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("["):
            current = out.setdefault(line.strip("[]"), {})
            continue
        key, shape = line.split(" ", 1)
        current[key] = tuple(ast.literal_eval(shape))
    return out


def _random_upstream(cfg=TINY, seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    head = DensePoseHead(cfg).eval()
    emb = VertexEmbedder(cfg.num_vertices, cfg.vertex_feature_dim, cfg.embed_size)
    with torch.no_grad():  # every tensor random, GroupNorm affine included
        for t in [*head.parameters(), *emb.parameters(), *emb.buffers()]:
            t.normal_(0, 0.1)
    model = to_detectron2(head, emb)
    model.update({k: np.zeros(3, np.float32) for k in DETECTOR_KEYS})
    return head, emb, model


@pytest.mark.parametrize(("preset", "d2_config"), [("R_50_FPN_s1x", "densepose_rcnn_R_50_FPN_s1x"),
                                                     ("R_101_FPN_DL_soft_s1x",
                                                      "densepose_rcnn_R_101_FPN_DL_soft_s1x")])
def test_full_size_layout_is_detectron2s(preset: str, d2_config: str) -> None:
    cfg = PRESETS[preset]
    with torch.device("meta"):
        head = DensePoseHead(cfg)
        emb = VertexEmbedder(cfg.num_vertices, cfg.vertex_feature_dim, cfg.embed_size)
    ours = {f"roi_heads.{k}": tuple(v.shape) for k, v in head.state_dict().items()}
    ours.update({f"roi_heads.embedder.embedder_smpl_27554.{k}": tuple(v.shape)
                 for k, v in emb.state_dict().items()})
    assert ours == _d2_layout()[d2_config]
    assert infer_config({k: np.empty(s, np.float32) for k, s in ours.items()}) == replace(
        cfg, export_image=PRESETS["R_50_FPN_s1x"].export_image)


def test_round_trip_through_pkl(tmp_path: Path) -> None:
    head, emb, model = _random_upstream()
    path = write_model_pkl(tmp_path / "model_final.pkl", model)
    loaded = load_cse_checkpoint(path, base=TINY)
    assert loaded.config == TINY and loaded.report.ok
    assert set(loaded.report.ignored) == set(DETECTOR_KEYS)  # the detector's, "not ours"
    g = torch.Generator().manual_seed(3)
    fpn = {k: torch.randn(1, *TINY.level_shape(k), generator=g) for k in TINY.in_features}
    rois = torch.tensor([[0, 5.0, 3.0, 70.0, 60.0], [0, 30.0, 10.0, 33.0, 12.0]])
    with torch.no_grad():
        for a, b in zip(loaded.head(fpn, rois), head(fpn, rois), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(loaded.embedder(), emb())
    check_cse_checkpoint(path)  # `stmocap models --check` passes on it


def test_infer_config_tells_the_heads_apart(tmp_path: Path) -> None:
    _, _, model = _random_upstream(replace(TINY, head="v1convx", num_convs=3))
    cfg = infer_config(model, TINY)
    assert (cfg.head, cfg.num_convs) == ("v1convx", 3)
    assert (cfg.num_vertices, cfg.vertex_feature_dim, cfg.in_channels) == (50, 8, 64)


def test_strict_errors_name_the_file_one_line_each(tmp_path: Path) -> None:
    _, _, model = _random_upstream()
    del model["roi_heads.densepose_head.body_conv_fcn2.norm.bias"]
    model["roi_heads.densepose_predictor.embed_lowres.bias"] = np.zeros(15, np.float32)
    model["roi_heads.densepose_head.NLBlock.g.weight"] = np.zeros((1,), np.float32)
    path = write_model_pkl(tmp_path / "bad.pkl", model)
    with pytest.raises(CSECheckpointError) as err:
        load_cse_checkpoint(path, config=TINY)
    lines = str(err.value).splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{path}: ") for line in lines)
    assert "missing key roi_heads.densepose_head.body_conv_fcn2.norm.bias" in lines[0]
    assert "unexpected key roi_heads.densepose_head.NLBlock.g.weight" in lines[1]
    assert "embed_lowres.bias has shape [15], the head expects [16]" in lines[2]
    # Not strict: loads what fits and reports the rest.
    report = load_cse_checkpoint(path, config=TINY, strict=False).report
    assert not report.ok and len(report.missing) == len(report.unexpected) == len(report.mismatched) == 1


def test_wrong_files_are_refused(tmp_path: Path) -> None:
    not_pickle = tmp_path / "a.pkl"
    not_pickle.write_bytes(b"hello")
    with pytest.raises(CSECheckpointError, match=f"{not_pickle}: not a readable detectron2 checkpoint"):
        read_model_pkl(not_pickle)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"model": {"x": Path("/")}}))
    with pytest.raises(CSECheckpointError, match=r"global pathlib\..* is not allowed"):
        read_model_pkl(evil)
    detector_only = write_model_pkl(tmp_path / "det.pkl", {k: np.zeros(1) for k in DETECTOR_KEYS})
    with pytest.raises(CSECheckpointError, match="not a DensePose checkpoint"):
        check_cse_checkpoint(detector_only)
    _, _, model = _random_upstream()
    chart = {k: v for k, v in model.items() if "embed" not in k}
    with pytest.raises(CSECheckpointError, match=r"chart \(IUV\) checkpoint"):
        check_cse_checkpoint(write_model_pkl(tmp_path / "chart.pkl", chart))
