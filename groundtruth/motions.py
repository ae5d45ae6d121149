"""The shipped ground-truth motions: DeepMimic clips retargeted to SMPL (``data/deepmimic_smpl.npz``,
made by ``scripts/convert_deepmimic.py``; sources and licence in ``data/NOTICE``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np


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

    def looped(self, min_frames: int) -> Motion:
        """A cyclic clip repeated until it has ≥ ``min_frames`` frames, each cycle continuing from
        where the last one ended on the ground plane (DeepMimic's "wrap" clips end on their first
        pose, so that frame is not doubled). Non-cyclic clips are returned as they are."""
        if not self.loop or self.num_frames >= min_frames:
            return self
        cycle = self.num_frames - 1
        reps = -(-(min_frames - 1) // cycle)
        step = self.transl[-1] - self.transl[0]
        step[1] = 0.0
        poses = np.concatenate([self.poses[:-1]] * reps + [self.poses[-1:]])
        transl = np.concatenate([self.transl[:-1] + k * step for k in range(reps)]
                                + [self.transl[-1:] + (reps - 1) * step])
        return Motion(self.name, poses, transl, self.fps, self.betas, self.source, self.loop)


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
