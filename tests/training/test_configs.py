"""Every training config shipped in training/configs parses, and its data paths point into runs/
next to the repository (where `lite_an_data.sh` and `train-data` write them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from stmocap.training.config import load_run_config

CONFIGS = sorted((Path(__file__).parents[2] / "training" / "configs").glob("*.toml"))


def test_there_are_configs() -> None:
    assert len(CONFIGS) > 10


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_parses(path: Path) -> None:
    run = load_run_config(path)
    assert run.data.train, path.name
    repo = Path(__file__).parents[2].resolve()
    for f in (*run.data.train, *run.data.val):
        assert Path(f).resolve().is_relative_to(repo / "runs"), f
    if "emb" in path.name and "base" not in path.name:
        assert run.net.feat_channels == 1383
