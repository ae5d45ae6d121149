"""Tests for models/body/smpl_file.py: SMPL's format, chumpy without chumpy, clear errors."""

from __future__ import annotations

import copyreg
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from stmocap.models.body.smpl_file import BodyModelData, BodyModelError, load_smpl_file
from stmocap.models.body.synthetic import NUM_VERTICES, SMPL_PARENTS, write_smpl_pickle


def test_reads_smpl_pickle_from_folder_or_file(smpl_dir: Path, synthetic_body: BodyModelData) -> None:
    for path in (smpl_dir, smpl_dir / "SMPL_NEUTRAL.pkl"):
        data = load_smpl_file(path)
        assert data.num_vertices == NUM_VERTICES and data.num_joints == 24
        assert data.parents.tolist() == list(SMPL_PARENTS)
        np.testing.assert_allclose(data.j_regressor, synthetic_body.j_regressor)
        np.testing.assert_array_equal(data.faces, synthetic_body.faces)


def test_smplx_folder_layout(tmp_path: Path, synthetic_body: BodyModelData) -> None:
    write_smpl_pickle(synthetic_body, tmp_path / "smpl" / "SMPL_NEUTRAL.pkl")
    assert load_smpl_file(tmp_path).num_vertices == NUM_VERTICES


def test_npz(tmp_path: Path, synthetic_body: BodyModelData) -> None:
    np.savez(tmp_path / "body.npz", **synthetic_body.as_smpl_dict())
    data = load_smpl_file(tmp_path / "body.npz")
    np.testing.assert_allclose(data.shapedirs, synthetic_body.shapedirs)


def _pickle_with_chumpy(d: dict, path: Path, keys: tuple[str, ...]) -> None:
    """Write ``d`` with ``keys`` stored as chumpy ``Ch`` objects, the way SMPL's website files are.

    chumpy does not install on current Python, so a stand-in module named ``chumpy.ch`` provides a
    class pickled exactly like ``chumpy.Ch`` (object reconstructor + state dict holding ``x``).
    """
    module = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            self.x = x
            self._dirty_vars: set = set()
            self._itr = None

        def __reduce_ex__(self, protocol: int):  # what object.__reduce_ex__(2) gives a Ch
            return (copyreg._reconstructor, (Ch, object, None), dict(self.__dict__))

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    module.Ch = Ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = module
    try:
        wrapped = {k: (Ch(v) if k in keys else v) for k, v in d.items()}
        with open(path, "wb") as fh:
            pickle.dump(wrapped, fh, protocol=2)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_chumpy_arrays_load_without_chumpy(tmp_path: Path, synthetic_body: BodyModelData) -> None:
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    _pickle_with_chumpy(synthetic_body.as_smpl_dict(), path, ("shapedirs", "posedirs", "weights"))
    assert b"chumpy" in path.read_bytes()
    assert "chumpy" not in sys.modules
    data = load_smpl_file(path)
    np.testing.assert_allclose(data.shapedirs, synthetic_body.shapedirs)
    np.testing.assert_allclose(data.weights, synthetic_body.weights)


def test_missing_file_names_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(BodyModelError, match=r"no SMPL_NEUTRAL\.pkl in .*smpl\.is\.tue\.mpg\.de"):
        load_smpl_file(tmp_path)
    with pytest.raises(BodyModelError, match="body model file not found"):
        load_smpl_file(tmp_path / "nope.pkl")


def test_garbage_and_wrong_content(tmp_path: Path, synthetic_body: BodyModelData) -> None:
    garbage = tmp_path / "SMPL_NEUTRAL.pkl"
    garbage.write_bytes(b"this is not a pickle")
    with pytest.raises(BodyModelError, match="not a readable SMPL-format file"):
        load_smpl_file(garbage)
    partial = {k: v for k, v in synthetic_body.as_smpl_dict().items() if k != "weights"}
    with open(garbage, "wb") as fh:
        pickle.dump(partial, fh)
    with pytest.raises(BodyModelError, match=r"lacks SMPL key\(s\) \['weights'\]"):
        load_smpl_file(garbage)
    bad = synthetic_body.as_smpl_dict()
    bad["weights"] = bad["weights"][:, :10]
    with open(garbage, "wb") as fh:
        pickle.dump(bad, fh)
    with pytest.raises(BodyModelError, match="malformed SMPL arrays"):
        load_smpl_file(garbage)
    with open(garbage, "wb") as fh:
        pickle.dump([1, 2, 3], fh)
    with pytest.raises(BodyModelError, match="not SMPL's dict"):
        load_smpl_file(garbage)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo should-not-run",))


def test_pickles_that_call_code_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"v_template": _Evil()}, fh)
    with pytest.raises(BodyModelError, match="refusing to load"):
        load_smpl_file(path)


def test_error_messages_are_one_line(tmp_path: Path) -> None:
    try:
        load_smpl_file(tmp_path / "x")
    except BodyModelError as exc:
        assert "\n" not in str(exc)
