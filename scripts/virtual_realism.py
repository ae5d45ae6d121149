"""How close unrendered pairs come to rendered ones: the lite per-frame initialisation's MPJPE and
ACC-ERR against the truth, on rendered tables and on their unrendered copies (same view and speed,
then turned and time-warped), with the regressor fitted on those tables.

    python scripts/virtual_realism.py runs/an/data/train_c.npz runs/an/data/cmu_c.npz
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from stmocap.evaluation.metrics import accel_error, mpjpe
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import rotation_6d_to_matrix
from stmocap.realtime.pipeline import PipelineConfig, build_stage
from stmocap.training.virtual import VirtualConfig, fit_regressor, virtual_table


def score(body, t: dict[str, np.ndarray]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Init MPJPE and ACC-ERR (mm, mm/frame²; pelvis-aligned 24 joints) over valid rows."""
    v = torch.from_numpy(t["valid"].astype(bool))
    rot = rotation_6d_to_matrix(torch.from_numpy(t["init_pose"].reshape(-1, 24, 6)))
    with torch.no_grad():
        p = body(rot.float(), torch.from_numpy(np.asarray(t["init_shape"], np.float32))).joints
    p = p - p[:, :1]
    g = torch.from_numpy(t["joints3D"]).float()
    g = g - g[:, :1]
    return float(mpjpe(p[v], g[v]).mean()), float(accel_error(p, g, v).mean())


def main() -> None:
    paths = sys.argv[1:]
    tables = [dict(np.load(p)) for p in paths]
    body = load_body_model(None)
    perframe = build_stage("perframe", PipelineConfig())
    reg = fit_regressor(tables)
    print(f"regressor: {reg.summary()}")
    print("| table | rendered | unrendered, as filmed | unrendered, turned + time-warped |")
    print("|---|---|---|---|")
    for path, t in zip(paths, tables, strict=True):
        same = virtual_table([t], VirtualConfig(views=1, max_turn=0, min_speed=1, max_speed=1), perframe, reg)
        moved = virtual_table([t], VirtualConfig(views=1), perframe, reg)
        cells = [f"{a:.1f} / {b:.1f}" for a, b in (score(body, x) for x in (t, same, moved))]
        print(f"| {path} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
