"""Strict loading of 4D-Humans-layout checkpoints (generated here; the real file is not needed)."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from stmocap.models.checkpoints import FILES, check_file
from stmocap.models.hmr2.checkpoint import (
    CKPT_NAME,
    config_from_yaml,
    config_to_yaml,
    load_hmr2,
    random_hmr2,
    read_checkpoint,
    save_upstream_layout,
    upstream_name,
)
from stmocap.models.hmr2.config import FULL, TINY
from stmocap.models.hmr2.model import HMR2


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[HMR2, Path]:
    model = random_hmr2(TINY, seed=3)
    return model, save_upstream_layout(model, tmp_path_factory.mktemp("hmr2") / "0")


def _rewrite(src: Path, dst_folder: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    """Copy the generated checkpoint with ``edit(state_dict)`` applied (config copied too)."""
    blob = torch.load(src, weights_only=False)
    edit(blob["state_dict"])
    (dst_folder / "checkpoints").mkdir(parents=True)
    (dst_folder / "model_config.yaml").write_text((src.parent.parent / "model_config.yaml").read_text())
    path = dst_folder / "checkpoints" / CKPT_NAME
    torch.save(blob, path)
    return path


def test_round_trip_gives_identical_outputs(saved: tuple[HMR2, Path]) -> None:
    model, path = saved
    assert path.parent.name == "checkpoints" and (path.parent.parent / "model_config.yaml").is_file()
    loaded, report = load_hmr2(path)
    assert report.ok and not report.missing and not report.unexpected
    assert set(report.ignored) == {"discriminator.D_conv1.weight", "smpl.shapedirs", "initialized"}
    assert loaded.cfg == TINY and not loaded.training
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for name in ("rotmats", "betas", "cam"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert torch.equal(loaded.head.mean_cam, model.head.mean_cam)


def test_lightning_objects_are_read_inertly(saved: tuple[HMR2, Path]) -> None:
    _, path = saved
    with pytest.raises(pickle.UnpicklingError):  # what plain weights_only=True says
        torch.load(path, weights_only=True)
    blob = read_checkpoint(path)
    cfg = blob["hyper_parameters"]["cfg"]
    assert "argparse.Namespace" in repr(cfg) and isinstance(blob["state_dict"]["backbone.pos_embed"],
                                                          torch.Tensor)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (str(self.marker),))


def test_code_in_the_pickle_never_runs(saved: tuple[HMR2, Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _rewrite(saved[1], tmp_path / "evil", lambda sd: None)
    blob = torch.load(path, weights_only=False)
    blob["callbacks"] = {"x": _Payload(marker)}
    torch.save(blob, path)
    _model, report = load_hmr2(path)
    assert report.ok and not marker.exists()


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda sd: sd.pop("smpl_head.decpose.bias"), "missing key smpl_head.decpose.bias"),
    (lambda sd: sd.__setitem__("smpl_head.extra.weight", torch.zeros(2)),
     "unexpected key smpl_head.extra.weight"),
    (lambda sd: sd.__setitem__("backbone.pos_embed", torch.zeros(1, 7, 64)),
     r"shape of backbone.pos_embed is \(1, 7, 64\) in the file, the model needs \(1, 13, 64\)"),
])
def test_strict_problems_are_one_line_each(saved: tuple[HMR2, Path], tmp_path: Path, edit, problem: str
                                           ) -> None:  # type: ignore[no-untyped-def]
    path = _rewrite(saved[1], tmp_path / "bad", edit)
    with pytest.raises(ValueError, match=problem) as info:
        load_hmr2(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}: ") for line in lines)
    _model, report = load_hmr2(path, strict=False)  # the rest loads; the report says what not
    assert not report.ok and len(report.problems()) == 1


def test_several_problems_are_counted(saved: tuple[HMR2, Path], tmp_path: Path) -> None:
    def edit(sd):  # type: ignore[no-untyped-def]
        sd.pop("backbone.last_norm.weight")
        sd.pop("backbone.last_norm.bias")
    path = _rewrite(saved[1], tmp_path / "bad2", edit)
    with pytest.raises(ValueError, match=r"missing key backbone.last_norm.bias \(and 1 more problems\)"):
        load_hmr2(path)


def test_missing_files_are_named(saved: tuple[HMR2, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint not found"):
        load_hmr2(tmp_path / "nope.ckpt")
    lone = tmp_path / "a" / "b" / "x.ckpt"
    lone.parent.mkdir(parents=True)
    lone.write_bytes(saved[1].read_bytes())
    with pytest.raises(ValueError, match=r"model_config.yaml: HMR2.0 model config not found"):
        load_hmr2(lone)
    model, _ = load_hmr2(lone, config_yaml=saved[1].parent.parent / "model_config.yaml")
    assert model.cfg == TINY
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a torch checkpoint"):
        load_hmr2(junk, config_yaml=saved[1].parent.parent / "model_config.yaml")


def test_stmocap_models_check_uses_the_strict_loader(saved: tuple[HMR2, Path], tmp_path: Path) -> None:
    entry = next(f for f in FILES if f.key == "hmr2")
    assert check_file(entry, saved[1]).problem is None
    bad = _rewrite(saved[1], tmp_path / "c", lambda sd: sd.pop("backbone.pos_embed"))
    status = check_file(entry, bad)
    assert status.problem == f"{bad}: missing key backbone.pos_embed"


def test_config_yaml_round_trip_and_upstream_defaults() -> None:
    for cfg in (TINY, FULL, replace(FULL, ief_iterations=3)):
        assert config_from_yaml(yaml.safe_load(yaml.safe_dump(config_to_yaml(cfg)))) == cfg
    # What 4D-Humans' model_config.yaml says (no backbone sizes: upstream hard-codes ViT-H).
    upstream = {"MODEL": {"IMAGE_SIZE": 256, "BBOX_SHAPE": [192, 256], "BACKBONE": {"TYPE": "vit"},
                          "IMAGE_MEAN": [0.485, 0.456, 0.406], "IMAGE_STD": [0.229, 0.224, 0.225],
                          "SMPL_HEAD": {"TYPE": "transformer_decoder", "TRANSFORMER_DECODER": {
                              "depth": 6, "heads": 8, "mlp_dim": 1024, "dim_head": 64, "dropout": 0.0,
                              "emb_dropout": 0.0, "norm": "layer", "context_dim": 1280}}},
                "SMPL": {"NUM_BODY_JOINTS": 23}, "EXTRA": {"FOCAL_LENGTH": 5000}}
    assert config_from_yaml(upstream) == FULL
    upstream["MODEL"]["SMPL_HEAD"]["TRANSFORMER_INPUT"] = "mean_shape"
    with pytest.raises(ValueError, match="TRANSFORMER_INPUT"):
        config_from_yaml(upstream, "x.yaml")


def test_upstream_names_of_the_full_model() -> None:
    """Every tensor maps to one distinct upstream key, with upstream's shapes."""
    with torch.device("meta"):
        model = HMR2(FULL)
    names = {upstream_name(k): tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(names) == len(model.state_dict())
    assert names["backbone.patch_embed.proj.weight"] == (1280, 3, 16, 16)
    assert names["backbone.pos_embed"] == (1, 193, 1280)
    assert names["backbone.blocks.31.attn.proj.weight"] == (1280, 1280)
    assert names["backbone.blocks.0.mlp.fc1.weight"] == (5120, 1280)
    assert names["smpl_head.transformer.to_token_embedding.weight"] == (1024, 1)
    assert names["smpl_head.transformer.transformer.layers.5.0.fn.to_qkv.weight"] == (1536, 1024)
    assert names["smpl_head.transformer.transformer.layers.5.1.fn.to_kv.weight"] == (1024, 1280)
    assert names["smpl_head.transformer.transformer.layers.0.2.fn.net.3.weight"] == (1024, 1024)
    assert names["smpl_head.init_body_pose"] == (1, 144)
    assert names["smpl_head.decpose.weight"] == (144, 1024)
    with pytest.raises(KeyError):
        upstream_name("head.something")
