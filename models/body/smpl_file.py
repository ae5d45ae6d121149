"""Read body models stored in SMPL's file format (``SMPL_NEUTRAL.pkl`` and friends).

SMPL's ``.pkl`` files are Python-2 pickles holding numpy arrays, a ``scipy.sparse`` joint regressor
and, in the files from the SMPL website, ``chumpy`` arrays. ``chumpy`` no longer installs on
current Python/numpy, so :func:`load_smpl_file` reads those objects without it (it keeps their
array ``x``). Only numpy, scipy.sparse and a few builtins may be named by the pickle: anything
else is refused, so a stray file cannot run code. ``.npz`` files with the same keys work too.

Keys used (V vertices, J = 24 joints, F faces): ``v_template (V, 3)``, ``f (F, 3)``,
``weights (V, J)``, ``J_regressor (J, V)``, ``shapedirs (V, 3, ≥10)``, ``posedirs (V, 3, 9·(J−1))``,
``kintree_table (2, J)`` (row 0: parent of each joint; the root's is −1 or 2³²−1).
Coordinates: metres, SMPL's model frame (y up, the body faces +z, +x is the body's left).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SMPL_URL = "https://smpl.is.tue.mpg.de (register, then 'SMPL for Python', neutral model v1.1.0)"

# Python-2 pickles (SMPL's) name copy_reg and __builtin__; the base class maps them to Python 3.
_ALLOWED_MODULES = ("numpy", "scipy.sparse", "copyreg", "copy_reg", "_codecs", "collections")
_ALLOWED_BUILTINS = {"object", "set", "frozenset", "dict", "list", "tuple", "slice", "complex"}


class BodyModelError(ValueError):
    """A body-model file is missing or malformed; the message is one line for the user."""


class _ChumpyStandIn:
    """Takes the place of a pickled ``chumpy.Ch``; only its array ``x`` is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = state


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            return _ChumpyStandIn
        if module in ("builtins", "__builtin__") and name in _ALLOWED_BUILTINS:
            return super().find_class(module, name)
        if any(module == m or module.startswith(m + ".") for m in _ALLOWED_MODULES):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _to_array(value: Any, key: str) -> np.ndarray:
    if isinstance(value, _ChumpyStandIn):
        if "x" not in value.state:
            raise BodyModelError(f"'{key}' is a chumpy expression, not a plain array")
        value = value.state["x"]
    if hasattr(value, "toarray"):  # scipy.sparse
        value = value.toarray()
    return np.asarray(value)


@dataclass(frozen=True)
class BodyModelData:
    """Arrays of a body model in SMPL's layout (see module docstring for shapes and frames)."""

    v_template: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    j_regressor: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    parents: np.ndarray
    source: str = ""

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.parents.shape[0])

    def as_smpl_dict(self) -> dict[str, Any]:
        """The arrays under SMPL's own key names (for ``smplx`` or to write a file)."""
        kintree = np.stack([self.parents, np.arange(self.num_joints)]).astype(np.int64)
        kintree[0, 0] = 4294967295
        return {
            "v_template": self.v_template, "f": self.faces, "weights": self.weights,
            "J_regressor": self.j_regressor, "shapedirs": self.shapedirs,
            "posedirs": self.posedirs, "kintree_table": kintree,
            "J": self.j_regressor @ self.v_template,
        }


def resolve_model_path(path: Path, gender: str = "neutral") -> Path:
    """A file path as is; a folder → ``SMPL_<GENDER>.pkl`` in it or in its ``smpl/`` subfolder."""
    path = Path(path).expanduser()
    if path.is_dir():
        name = f"SMPL_{gender.upper()}.pkl"
        for candidate in (path / name, path / "smpl" / name):
            if candidate.is_file():
                return candidate
        raise BodyModelError(f"no {name} in {path} or {path / 'smpl'}; get it from {SMPL_URL}")
    if not path.is_file():
        raise BodyModelError(f"body model file not found: {path}; SMPL files come from {SMPL_URL}")
    return path


def _read_raw(path: Path) -> dict[str, Any]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    with open(path, "rb") as fh:
        raw = _SafeUnpickler(fh, encoding="latin1").load()
    if not isinstance(raw, dict):
        raise BodyModelError(f"{path} holds a {type(raw).__name__}, not SMPL's dict of arrays")
    return raw


def load_smpl_file(path: Path, gender: str = "neutral") -> BodyModelData:
    """Read and check a body model in SMPL's format (``.pkl`` or ``.npz``; a folder is searched).

    Raises:
        BodyModelError: missing file, unreadable pickle, missing keys or inconsistent shapes.
    """
    path = resolve_model_path(path, gender)
    try:
        raw = _read_raw(path)
    except BodyModelError:
        raise
    except Exception as exc:  # pickle/zip/EOF errors vary; all mean "not a model file"
        raise BodyModelError(f"{path} is not a readable SMPL-format file ({exc})") from exc
    required = ("v_template", "f", "weights", "J_regressor", "shapedirs", "posedirs", "kintree_table")
    missing = [k for k in required if k not in raw]
    if missing:
        raise BodyModelError(f"{path} lacks SMPL key(s) {missing}; expected an SMPL model from {SMPL_URL}")
    arr = {k: _to_array(raw[k], k) for k in required}
    v = arr["v_template"].astype(np.float64)
    V = v.shape[0] if v.ndim == 2 else -1
    parents = arr["kintree_table"][0].astype(np.int64)
    parents[0] = -1
    J = parents.shape[0]
    posedirs = arr["posedirs"].astype(np.float64)
    checks = {
        "v_template": v.shape == (V, 3),
        "f": arr["f"].ndim == 2 and arr["f"].shape[1] == 3,
        "weights": arr["weights"].shape == (V, J),
        "J_regressor": arr["J_regressor"].shape == (J, V),
        "shapedirs": arr["shapedirs"].ndim == 3 and arr["shapedirs"].shape[:2] == (V, 3),
        "posedirs": posedirs.shape == (V, 3, 9 * (J - 1)),
        "kintree_table": bool(np.all(parents[1:] < np.arange(1, J))) and bool(np.all(parents[1:] >= 0)),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        shapes = {k: tuple(arr[k].shape) for k in bad}
        raise BodyModelError(f"{path}: malformed SMPL arrays {shapes} (V={V} vertices, J={J} joints)")
    faces = arr["f"].astype(np.int64)
    if faces.min() < 0 or faces.max() >= V:
        raise BodyModelError(f"{path}: face indices outside 0..{V - 1}")
    return BodyModelData(
        v_template=v,
        faces=faces,
        weights=arr["weights"].astype(np.float64),
        j_regressor=arr["J_regressor"].astype(np.float64),
        shapedirs=arr["shapedirs"].astype(np.float64),
        posedirs=posedirs,
        parents=parents,
        source=str(path),
    )
