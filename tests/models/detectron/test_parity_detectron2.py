"""Stage-by-stage parity with detectron2 + DensePose (runs only where a reference venv exists).

Set ``STMOCAP_D2_PYTHON`` to the python of a venv with detectron2 and DensePose built from source
(e.g. /tmp/ref/venvd2/bin/python) and ``STMOCAP_D2_ROOT`` to its checkout (default /tmp/ref/d2).
Uses the full R_50 depth at few channels (``--preset narrow``); the full-size tables are in
docs/parity.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

D2_PYTHON = os.environ.get("STMOCAP_D2_PYTHON")
pytestmark = pytest.mark.skipif(not D2_PYTHON, reason="STMOCAP_D2_PYTHON (detectron2 venv) not set")
SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "detectron_parity.py"


def test_narrow_r50_matches_detectron2(tmp_path: Path) -> None:
    pytest.importorskip("stmocap.models.detectron.roi_align")
    out = tmp_path / "rows.json"
    root = os.environ.get("STMOCAP_D2_ROOT", "/tmp/ref/d2")
    subprocess.run([sys.executable, str(SCRIPT), "--d2-python", str(D2_PYTHON), "--d2-root", root,
                    "--preset", "narrow", "--frame", "480x640", "--json", str(out)],
                   check=False, capture_output=True)
    rows = {r["stage"]: r for r in json.loads(out.read_text())}
    worst = {k: r["relative"] for k, r in rows.items() if "relative" in r}
    assert max(worst.values()) <= 1e-4, worst
    assert rows["resized uint8"]["max_abs"] == 0 and rows["preprocessed tensor"]["max_abs"] == 0
    assert "bit-identical" in rows["proposals from the reference's RPN outputs"]["note"]
    assert rows["checkpoint"]["note"] == "missing 0, unexpected 0, mismatched 0"
    n_ours, n_ref = rows["final boxes (end to end, image frame)"]["note"].split(" vs ")
    assert n_ours == n_ref
