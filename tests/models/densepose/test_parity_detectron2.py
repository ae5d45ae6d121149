"""DensePose-CSE ROI head against detectron2 + DensePose, stage by stage (opt-in: needs the
reference environment; set STMOCAP_D2_PYTHON to its python and, if not /tmp/ref/d2,
STMOCAP_D2_SOURCE to the detectron2 checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[3] / "scripts" / "densepose_parity.py"
D2_PYTHON = os.environ.get("STMOCAP_D2_PYTHON")
D2_SOURCE = os.environ.get("STMOCAP_D2_SOURCE", "/tmp/ref/d2")


@pytest.mark.skipif(not D2_PYTHON or not Path(D2_SOURCE).is_dir(),
                    reason="set STMOCAP_D2_PYTHON to a detectron2 + DensePose python to compare "
                           "with upstream")
@pytest.mark.parametrize("preset", ["R_50_FPN_s1x", "R_101_FPN_DL_soft_s1x"])
def test_every_stage_within_1e4_of_detectron2(preset: str) -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--d2-python", str(D2_PYTHON), "--d2-source",
                          D2_SOURCE, "--preset", preset], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "(bar 1e-4): met" in out.stdout
