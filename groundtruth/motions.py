"""The shipped ground-truth motions, retargeted to SMPL; sources and licences in ``data/NOTICE``.

Two groups (:data:`GROUPS`): ``deepmimic``, the 15 DeepMimic clips (``data/deepmimic_smpl.npz``,
made by ``scripts/convert_deepmimic.py``), the benchmark set that ``--clips all`` means, and
``cmu``, clips cut from CMU motion-capture takes (``data/cmu_smpl.npz``, made by
``scripts/convert_bvh.py``), used only when asked for by name or as ``--clips cmu``.
"""

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
    it came from (for checks; None for the CMU clips)."""

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


# Clip group → its file in data/. ``deepmimic`` first: clip seeds in the closed-loop evaluation are
# places in the shipped list, so adding groups after it leaves the benchmark's scenes unchanged.
GROUPS = {"deepmimic": "deepmimic_smpl.npz", "cmu": "cmu_smpl.npz"}
DEFAULT_GROUP = "deepmimic"  # what ``--clips all`` selects


def motions_path(group: str = DEFAULT_GROUP) -> Path:
    """The shipped file of a clip group (:data:`GROUPS`)."""
    return Path(str(resources.files("stmocap.groundtruth") / "data" / GROUPS[group]))


def _read(path: Path) -> dict[str, Motion]:
    with np.load(path, allow_pickle=False) as npz:
        names = [str(n) for n in npz["clips"]]
        return {n: Motion(n, npz[f"{n}/poses"].astype(np.float64), npz[f"{n}/transl"].astype(np.float64),
                          float(npz[f"{n}/fps"]), np.zeros(10),
                          npz.get(f"{n}/source", None),
                          bool(npz[f"{n}/loop"])) for n in names}


def load_motions(path: Path | None = None, groups: tuple[str, ...] | None = None) -> dict[str, Motion]:
    """Shipped clips by name in file order: every group (``walk``, ``run``, …, then
    ``cmu_01_01_a``, …) by default, those of ``groups``, or the clips of one file ``path``."""
    if path is not None:
        return _read(path)
    motions: dict[str, Motion] = {}
    for group in groups or tuple(GROUPS):
        motions.update(_read(motions_path(group)))
    return motions


def group_of(name: str) -> str:
    """The group of a shipped clip name: ``cmu`` for ``cmu_*``, else ``deepmimic``."""
    return "cmu" if name.startswith("cmu_") else "deepmimic"


def select_clips(spec: str, motions: dict[str, Motion]) -> list[str]:
    """Clip names from a ``--clips`` value: comma-separated clip names and groups, in order, each
    once. ``all`` is the DeepMimic benchmark set (15 clips), ``deepmimic`` the same, ``cmu`` the CMU
    clips; e.g. ``all,cmu`` or ``walk,cmu_01_01_a``. Unknown names: :class:`ValueError` listing the
    available ones."""
    names: list[str] = []
    for item in (c.strip() for c in spec.split(",")):
        group = DEFAULT_GROUP if item == "all" else item
        chosen = [n for n in motions if group_of(n) == group] if group in GROUPS else [item]
        names += [n for n in chosen if n not in names]
    unknown = [n for n in names if n not in motions]
    if unknown:
        raise ValueError(f"unknown clip(s) {unknown}; groups: all (= deepmimic), {', '.join(GROUPS)}; "
                         f"clips: {', '.join(motions)}")
    return names


def load_motion(name: str) -> Motion:
    """One clip of any group; a clear error naming the available ones."""
    motions = load_motions()
    if name not in motions:
        raise KeyError(f"no motion '{name}'; available: {', '.join(motions)}")
    return motions[name]
