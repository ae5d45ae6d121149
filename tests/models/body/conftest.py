"""Fixtures: a synthetic body model written in SMPL's own pickle format."""

from __future__ import annotations

from pathlib import Path

import pytest
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.body.synthetic import make_synthetic_body, write_smpl_pickle


@pytest.fixture(scope="session")
def synthetic_body() -> BodyModelData:
    return make_synthetic_body()


@pytest.fixture(scope="session")
def smpl_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_body: BodyModelData) -> Path:
    folder = tmp_path_factory.mktemp("smpl_models")
    write_smpl_pickle(synthetic_body, folder / "SMPL_NEUTRAL.pkl")
    return folder


@pytest.fixture(scope="session")
def free_body() -> BodyModelData:
    from stmocap.models.body.free_body import load_free_body

    return load_free_body()
