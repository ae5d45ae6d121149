"""Evaluate a temporal-network checkpoint on datasets: the paper's Table 1 metrics.

Each frame is predicted from its own window with the frame at ``position = W − 1 − L`` (the
latest position a stream with lookahead L may read; L = 7 for W = 16 is the centre frame,
MPS-Net's protocol). Rows of the report: the network's refined output, the coarse output of g and
the per-frame initialisation the network was given (the baseline it has to beat).

Joints: ``smpl24`` (the body model's own 24 joints; truth from the truth pose and shape, else from
24-joint ``joints3D``) or a joint regressor file ``(J, V)`` applied to the mesh (Human3.6M's 17
rows are reduced to the 14 evaluation joints, truth from 14-joint ``joints3D`` where present). All
errors are pelvis-aligned (mean of both hips), in mm; ACC-ERR in mm/frame², per video.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stmocap.evaluation.metrics import (
    H36M_TO_J14,
    J14_HIPS,
    accel_error,
    accel_magnitude,
    align_root,
    mpjpe,
    pa_mpjpe,
)
from stmocap.models.body.model import BodyModel
from stmocap.models.rotations import rotation_6d_to_matrix
from stmocap.models.temporal.network import TemporalNet
from stmocap.training.data import FrameTable
from stmocap.training.windows import evaluation_windows
from torch import Tensor

METRICS = ("PA-MPJPE", "MPJPE", "MPVPE", "ACC-ERR")
SMPL_HIPS = (1, 2)


@dataclass(frozen=True)
class Prediction:
    """Per-frame parameters ``pose_6d (N, J, 6)``, ``betas (N, K)``, ``cam (N, 3)``."""

    pose_6d: np.ndarray
    betas: np.ndarray
    cam: np.ndarray


def predict_table(net: TemporalNet, table: FrameTable, position: int, batch: int = 256,
                  device: str | torch.device = "cpu") -> dict[str, Prediction]:
    """Run ``net`` on one window per frame; returns ``refined``, ``coarse`` and ``init``."""
    W = net.cfg.window
    rows = evaluation_windows(table, W, position)
    out: dict[str, list[list[np.ndarray]]] = {"refined": [[], [], []], "coarse": [[], [], []]}
    net = net.eval()
    with torch.inference_mode():
        for lo in range(0, len(rows), batch):
            r = rows[lo:lo + batch]
            res = net(torch.from_numpy(table.features[r]).to(device),
                      torch.from_numpy(table.init_pose_6d[r]).to(device),
                      torch.from_numpy(table.init_cam[r]).to(device))
            for name, params in (("refined", res.refined), ("coarse", res.coarse)):
                for i, x in enumerate((params.pose_6d, params.betas, params.cam)):
                    out[name][i].append(x[:, position].float().cpu().numpy())
    preds = {k: Prediction(*(np.concatenate(v[i]) if v[i] else np.zeros((0,)) for i in range(3)))
             for k, v in out.items()}
    J = net.cfg.joints
    preds["init"] = Prediction(table.init_pose_6d.reshape(len(table), J, 6), table.init_betas,
                               table.init_cam)
    return preds


class JointSet:
    """Evaluation joints and mesh of SMPL parameters: ``smpl24`` or a regressor ``(J, V)``."""

    def __init__(self, body: BodyModel, regressor: np.ndarray | None = None) -> None:
        self.body = body
        self.regressor = None if regressor is None else torch.as_tensor(regressor, dtype=torch.float32)
        self.select = list(H36M_TO_J14) if regressor is not None and len(regressor) == 17 else None
        if self.regressor is not None and self.regressor.shape[1] != body.num_vertices:
            raise ValueError(f"joint regressor has {self.regressor.shape[1]} columns, the body model "
                             f"{body.num_vertices} vertices")
        self.hips = SMPL_HIPS if regressor is None else J14_HIPS if self.select else SMPL_HIPS

    @property
    def name(self) -> str:
        return "smpl24" if self.regressor is None else "h36m-j14" if self.select else "regressor"

    def __call__(self, pose_6d: np.ndarray, betas: np.ndarray) -> tuple[Tensor, Tensor]:
        """``(N, J, 6)``, ``(N, K)`` → pelvis-aligned joints ``(N, Je, 3)`` and vertices
        ``(N, V, 3)`` (both minus the mean of the hip joints), metres."""
        with torch.inference_mode():
            out = self.body(rotation_6d_to_matrix(torch.from_numpy(np.ascontiguousarray(pose_6d))),
                            torch.from_numpy(np.ascontiguousarray(betas)))
            if self.regressor is None:
                j = out.joints
            else:
                j = torch.einsum("jv,nvc->njc", self.regressor, out.vertices)
                j = j[:, self.select] if self.select else j
            pelvis = j[:, list(self.hips)].mean(dim=1, keepdim=True)
            return j - pelvis, out.vertices - pelvis


def dataset_metrics(preds: dict[str, Prediction], table: FrameTable, joint_set: JointSet,
                    chunk: int = 256) -> tuple[dict[str, dict[str, float | None]], dict[str, np.ndarray]]:
    """Table-1 metrics of each prediction over the table's valid frames.

    Returns:
        ``{method: {metric: value or None}}`` (MPVPE needs truth pose and shape) and the
        pelvis-aligned joints ``{method: (N, Je, 3)}`` in metres, ``truth`` included, for plots.
    """
    has_smpl = table.pose_6d is not None and table.betas is not None
    N = len(table)
    joints: dict[str, list[Tensor]] = {m: [] for m in [*preds, "truth"]}
    verr: dict[str, list[Tensor]] = {m: [] for m in preds}
    for lo in range(0, N, chunk):
        sl = slice(lo, lo + chunk)
        gv = None
        if has_smpl:
            gj, gv = joint_set(table.pose_6d[sl], table.betas[sl])
            joints["truth"].append(gj)
        for method, p in preds.items():
            pj, pv = joint_set(p.pose_6d[sl], p.betas[sl])
            joints[method].append(pj)
            if gv is not None:
                verr[method].append(mpjpe(pv, gv))
    expected = joints[next(iter(preds))][0].shape[1] if N else 0
    if table.joints3d is not None and table.joints3d.shape[1] == expected:
        gt_j = align_root(torch.from_numpy(table.joints3d), joint_set.hips)
    elif has_smpl:
        gt_j = torch.cat(joints["truth"])
    else:
        got = "no joints3D" if table.joints3d is None else f"joints3D with {table.joints3d.shape[1]} joints"
        raise ValueError(f"{table.source}: {got} and no truth pose/shape; the {joint_set.name} "
                         f"joints need {expected}")
    valid = torch.from_numpy(table.valid)
    if not bool(valid.any()):
        raise ValueError(f"{table.source} has no valid frames")
    results: dict[str, dict[str, float | None]] = {}
    aligned: dict[str, np.ndarray] = {"truth": gt_j.numpy()}
    for method in preds:
        pj = torch.cat(joints[method])
        aligned[method] = pj.numpy()
        acc = [accel_error(pj[lo:hi], gt_j[lo:hi], valid[lo:hi]) for _, lo, hi in table.videos()
               if hi - lo >= 3]
        acc_all = torch.cat(acc) if acc else torch.zeros(0)
        results[method] = {
            "PA-MPJPE": float(pa_mpjpe(pj, gt_j)[valid].mean()),
            "MPJPE": float(mpjpe(pj, gt_j)[valid].mean()),
            "MPVPE": float(torch.cat(verr[method])[valid].mean()) if verr[method] else None,
            "ACC-ERR": float(acc_all.mean()) if len(acc_all) else None,
        }
    return results, aligned


def markdown_table(results: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """The paper's Table 1 layout: one row per method, a block of metric columns per dataset."""
    datasets = list(results)
    methods: list[str] = []
    for d in datasets:
        methods += [m for m in results[d] if m not in methods]
    head = ["Method"] + [f"{d} {m}↓" for d in datasets for m in METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in methods:
        cells = [method]
        for d in datasets:
            vals = results[d].get(method, {})
            cells += ["-" if vals.get(m) is None else f"{vals[m]:.1f}" for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_acceleration(aligned: dict[str, np.ndarray], table: FrameTable, path: Path) -> Path:
    """Acceleration magnitude over the first video's frames, truth and each method (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name, lo, hi = max(table.videos(), key=lambda v: v[2] - v[1])
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for method, j in aligned.items():
        if hi - lo >= 3:
            ax.plot(np.arange(lo + 1, hi - 1) - lo, accel_magnitude(torch.from_numpy(j[lo:hi])).numpy(),
                    label=method, lw=1.2 if method == "truth" else 0.9)
    ax.set_xlabel("frame")
    ax.set_ylabel("acceleration (mm/frame²)")
    ax.set_title(f"{name}: joint acceleration")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(results: dict[str, dict[str, dict[str, float | None]]], out: Path, command: str,
                 note: str) -> tuple[Path, Path]:
    """``eval.md`` (table + note) and ``eval.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "eval.md"
    md.write_text(f"Command: `{command}`\n\n{markdown_table(results)}\n\n{note}\n")
    js = out / "eval.json"
    js.write_text(json.dumps(results, indent=1))
    return md, js


