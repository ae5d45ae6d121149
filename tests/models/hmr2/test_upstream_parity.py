"""stmocap's HMR2.0 against 4D-Humans' own modules, stage by stage (reduced sizes, real photo).

Skips unless ``STMOCAP_4DH`` points at a 4D-Humans checkout whose network modules import here
(they need einops, yacs, scikit-image). The full-size run is ``scripts/hmr2_parity.py`` and its
table is in docs/parity.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "hmr2_parity.py"
ROOT = os.environ.get("STMOCAP_4DH")


def _harness():  # type: ignore[no-untyped-def]
    if not ROOT:
        pytest.skip("set STMOCAP_4DH to a 4D-Humans checkout to compare with upstream")
    for module in ("einops", "yacs", "skimage", "cv2"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"upstream's modules need {module}: pip install einops yacs scikit-image")
    spec = importlib.util.spec_from_file_location("hmr2_parity", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("hmr2_parity", mod)  # its dataclasses look their module up there
    spec.loader.exec_module(sys.modules["hmr2_parity"])
    mod = sys.modules["hmr2_parity"]
    try:
        mod.load_upstream(Path(ROOT))
    except (ImportError, FileNotFoundError) as exc:
        pytest.skip(f"4D-Humans modules do not import from {ROOT}: {exc}")
    return mod


def test_every_stage_within_1e4_of_upstream() -> None:
    harness = _harness()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using torch.cross without")  # upstream's geometry
        rows, commit = harness.run_parity(Path(ROOT), "reduced")
    by_stage = {r["stage"]: r for r in rows}
    # The crops are bit-identical (same float32 box arithmetic, same blur, same warp).
    assert by_stage["crop 256×256 (normalised)"]["max_abs"] == 0.0
    assert by_stage["network input 256×192"]["max_abs"] == 0.0
    assert len(rows) == 10 and commit
    worst = max(rows, key=lambda r: r["relative"])
    assert worst["relative"] <= 1e-4, worst
