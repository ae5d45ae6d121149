"""The shipped ground-truth motions: DeepMimic clips retargeted to SMPL (``data/deepmimic_smpl.npz``,
made by ``scripts/convert_deepmimic.py``; sources and licence in ``data/NOTICE``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class Motion:
    """An SMPL motion: ``poses (T, 24, 3)`` axis-angle (root first), ``transl (T, 3)`` metres,
    ``betas (10,)``; SMPL's axes with the ground at y = 0. ``source (N, 44)``: the DeepMimic frames
    it came from (for checks)."""

    name: str
    poses: np.ndarray
    transl: np.ndarray
    fps: float
    betas: np.ndarray
    source: np.ndarray | None = None
    loop: bool = False

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    def looped(self, min_frames: int, blend: int = 8) -> Motion:
        """A cyclic clip repeated until it has ≥ ``min_frames`` frames (others: returned as is).

        DeepMimic's "wrap" clips end near, not on, their first pose (walk: 28° at a shoulder) and
        turn a little per cycle (dance_a: 14°). So each cycle after the first is turned about the
        vertical by the heading change of one cycle and continues from where the previous one
        ended on the ground plane, and the last ``blend`` frames of the cycle are eased onto the next
        cycle's first pose (a growing share of the per-joint difference), so the seam has no jump.
        The cycle's last frame then equals the next one's first and is not repeated.
        """
        if not self.loop or self.num_frames >= min_frames or self.num_frames < 3:
            return self
        from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_axis_angle

        def mat(aa: np.ndarray) -> np.ndarray:
            return axis_angle_to_matrix(torch.from_numpy(np.ascontiguousarray(aa))).numpy()

        def aa_of(R: np.ndarray) -> np.ndarray:
            return matrix_to_axis_angle(torch.from_numpy(np.ascontiguousarray(R))).numpy()

        R = mat(self.poses)  # (N, 24, 3, 3)
        N = self.num_frames
        turn = _rot_y(_heading(R[-1, 0]) - _heading(R[0, 0]))
        target = R[0].copy()
        target[0] = turn @ R[0, 0]  # the next cycle starts turned
        delta = aa_of(target @ np.swapaxes(R[-1], -1, -2))  # (24, 3): last frame → target
        B = min(blend, N - 1)
        for i in range(B):
            w = (i + 1) / B
            t = N - B + i
            R[t] = mat(w * delta) @ R[t]
        cycle = N - 1
        reps = -(-(min_frames - 1) // cycle)
        poses, transl = [], []
        heading = np.eye(3)
        start = self.transl[0].copy()
        rel = self.transl - self.transl[0]
        for _ in range(reps):
            rot = R.copy()
            rot[:, 0] = heading @ R[:, 0]
            p = rel @ heading.T
            p[:, 1] = self.transl[:, 1]
            p[:, [0, 2]] += start[[0, 2]]
            poses.append(aa_of(rot)[:-1])
            transl.append(p[:-1])
            start = p[-1]
            heading = turn @ heading
        poses.append(aa_of(rot)[-1:])
        transl.append(p[-1:])
        return Motion(self.name, np.concatenate(poses), np.concatenate(transl), self.fps, self.betas,
                      self.source, self.loop)


def _heading(root: np.ndarray) -> float:
    """Yaw (about +y) of a root rotation: the angle of its forward (+z) axis on the ground plane."""
    return float(np.arctan2(root[0, 2], root[2, 2]))


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def motions_path() -> Path:
    return Path(str(resources.files("stmocap.groundtruth") / "data" / "deepmimic_smpl.npz"))


def load_motions(path: Path | None = None) -> dict[str, Motion]:
    """Every shipped clip by name (``walk``, ``run``, ``jump``, …), in file order."""
    with np.load(path or motions_path(), allow_pickle=False) as npz:
        names = [str(n) for n in npz["clips"]]
        return {n: Motion(n, npz[f"{n}/poses"].astype(np.float64), npz[f"{n}/transl"].astype(np.float64),
                          float(npz[f"{n}/fps"]), np.zeros(10), npz[f"{n}/source"],
                          bool(npz[f"{n}/loop"])) for n in names}


def load_motion(name: str) -> Motion:
    """One clip; a clear error naming the available ones."""
    motions = load_motions()
    if name not in motions:
        raise KeyError(f"no motion '{name}'; available: {', '.join(motions)}")
    return motions[name]
