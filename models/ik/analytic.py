"""Closed-form inverse kinematics for one frame: the lite profile's fast per-frame initialisation.

Frames: targets are in the camera's orientation (x right, y down, z away), metres, any origin;
rest joints are the body model's (SMPL: y up, facing +z). The solved root rotation is SMPL's global
orientation in the camera frame.

No iterations: the root as the rotation that best maps the rest torso (hips and shoulders) onto
the targets' (weighted Kabsch), then every bone with a
target swung onto its target direction down the kinematic tree (the smallest rotation, no twist;
the neck, which has no landmark, from where the skeleton puts it to the head's target),
the shape β from the bone lengths by one ridge-regularised least-squares solve (bone lengths
linearised about the mean body).

Each bone aims along a blend of two unit directions: BlazePose's own bone (child target − joint
target) and the way from where the chain has put the joint so far to the child's target. The
first alone (``aim = 1``) keeps BlazePose's limb directions exactly but lets each limb's angular
error add up down the chain, so wrists and ankles drift from their targets; the second alone
(``aim = 0``) chases positions and bends limbs. Half of each (the default) was measured best on
the 12 joints BlazePose and SMPL share (docs/benchmarks.md, "Side by side with mediapipe"). The L-BFGS
refinement (:class:`~stmocap.models.ik.solver.IKSolver`) trades them for its priors and costs
10–20 ms a frame (both measured in docs/benchmarks.md, "Per-frame initialisation").

Pure numpy, a fraction of a millisecond per person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from stmocap.models.ik.solver import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER, SWING, Skeleton

TORSO = [L_HIP, R_HIP, L_SHOULDER, R_SHOULDER]
# Bones whose length says something about β: the swung ones plus hip and shoulder widths.
SHAPE_BONES: tuple[tuple[int, int], ...] = (*SWING, (L_HIP, R_HIP), (L_SHOULDER, R_SHOULDER))


@dataclass(frozen=True)
class AnalyticIK:
    """One frame's solution: ``rotmats (24, 3, 3)`` local rotations, ``betas (K,)``, ``joints (24, 3)``
    posed root-relative joints plus ``offset (3,)`` (the root in the targets' frame), and
    ``model_joints (24, 3)`` (the body model's own output frame: root at its rest position)."""

    rotmats: np.ndarray
    betas: np.ndarray
    joints: np.ndarray
    offset: np.ndarray
    model_joints: np.ndarray


def best_rotation(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The rotation ``R (3, 3)`` minimising ``Σ w_i ‖R (s_i − s̄) − (t_i − t̄)‖²`` (weighted Kabsch;
    ``source, target (N, 3)``, ``weights (N,)``, centroids weighted), a proper rotation."""
    w = weights / max(float(weights.sum()), 1e-12)
    P = source - w @ source
    Q = target - w @ target
    U, _, Vt = np.linalg.svd((P * w[:, None]).T @ Q)
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    return Vt.T @ np.diag([1.0, 1.0, d]) @ U.T


def align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation ``(3, 3)`` taking direction ``a (3,)`` onto ``b (3,)`` (Rodrigues).

    Opposite directions turn by π about an axis perpendicular to ``a``; a zero vector gives I."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-12 or nb < 1e-12:
        return np.eye(3)
    a, b = a / na, b / nb
    v = np.cross(a, b)
    c = float(a @ b)
    s = float(np.linalg.norm(v))
    if s < 1e-9:
        if c > 0:
            return np.eye(3)
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + k @ k * ((1.0 - c) / (s * s))


class AnalyticSolver:
    """Closed-form IK on a body model's skeleton (see the module docstring).

    Args:
        skeleton: rest joints as a linear function of β.
        shape_ridge: weight of ‖β‖² in the bone-length fit (0 < ridge; larger keeps β nearer 0);
            ``None`` keeps β = 0 (the mean body).
        aim: in [0, 1], the weight of BlazePose's bone direction against the direction from the
            chain's posed joint to the child's target (module docstring); 1 keeps BlazePose's
            directions exactly.
        betas: a fixed shape ``(K,)`` (a stated height: :mod:`stmocap.models.body.stature`)
            instead of the bone-length fit.
    """

    def __init__(self, skeleton: Skeleton, shape_ridge: float | None = 0.1, aim: float = 0.5,
                 betas: np.ndarray | None = None) -> None:
        if not 0.0 <= aim <= 1.0:
            raise ValueError(f"aim must be in [0, 1], got {aim}")
        self.aim = float(aim)
        self.rest = skeleton.rest.double().numpy()  # (J, 3)
        self.basis = skeleton.shape_basis.double().numpy()  # (J, 3, K)
        self.parents = skeleton.parents
        self.children = dict(SWING)
        self.shape_ridge = shape_ridge
        self.fixed_betas = None if betas is None else np.asarray(betas, np.float64)
        bones = np.stack([self.rest[c] - self.rest[p] for p, c in SHAPE_BONES])  # (P, 3)
        self._rest_len = np.linalg.norm(bones, axis=-1)
        units = bones / self._rest_len[:, None]
        dirs = np.stack([self.basis[c] - self.basis[p] for p, c in SHAPE_BONES])  # (P, 3, K)
        self._length_jac = np.einsum("pc,pck->pk", units, dirs)  # d|bone| / dβ

    def shape(self, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """β ``(K,)`` whose bone lengths best match the targets' (``targets (24, 3)``, per-joint
        ``weights (24,)``; a bone counts with the smaller of its ends' weights)."""
        K = self.basis.shape[-1]
        if self.fixed_betas is not None:
            return np.pad(self.fixed_betas, (0, K - len(self.fixed_betas)))[:K]
        if self.shape_ridge is None:
            return np.zeros(K)
        lengths = np.array([np.linalg.norm(targets[c] - targets[p]) for p, c in SHAPE_BONES])
        w = np.array([min(weights[p], weights[c]) for p, c in SHAPE_BONES])
        A = self._length_jac
        M = A.T @ (A * w[:, None]) + self.shape_ridge * np.eye(K)
        return np.linalg.solve(M, A.T @ (w * (lengths - self._rest_len)))

    def _aim(self, bone: np.ndarray, reach: np.ndarray) -> np.ndarray:
        """The direction ``(3,)`` a bone is swung onto: ``aim`` of the unit ``bone`` (BlazePose's)
        plus ``1 − aim`` of the unit ``reach`` (chain joint → child target); either alone where
        the other is zero."""
        nb, nr = float(np.linalg.norm(bone)), float(np.linalg.norm(reach))
        if self.aim == 1.0 or nr < 1e-9:
            return bone
        if nb < 1e-9:
            return reach
        return self.aim * bone / nb + (1.0 - self.aim) * reach / nr

    def __call__(self, targets: np.ndarray, weights: np.ndarray) -> AnalyticIK:
        """Solve ``targets (24, 3)`` with per-joint ``weights (24,)`` (0: no target; the weights
        enter β and the offset, not the directions: BlazePose's occluded points are still its
        best guess)."""
        targets = np.asarray(targets, np.float64)
        weights = np.asarray(weights, np.float64)
        betas = self.shape(targets, weights)
        rest = self.rest + self.basis @ betas  # (J, 3)
        J = len(rest)
        local = np.repeat(np.eye(3)[None], J, axis=0)
        world = np.empty_like(local)
        posed = np.empty_like(rest)
        R0 = best_rotation(rest[TORSO], targets[TORSO], weights[TORSO])
        local[0] = world[0] = R0
        posed[0] = rest[0]
        # Where the model frame's origin lies in the targets' frame, from the torso alone: a bone
        # whose start has no target (the neck) starts where the skeleton puts it.
        wt = weights[TORSO] / max(float(weights[TORSO].sum()), 1e-12)
        shift = wt @ (targets[TORSO] - (rest[TORSO] - rest[0]) @ R0.T - rest[0])
        for j in range(1, J):
            p = self.parents[j]
            G = world[p]
            posed[j] = posed[p] + G @ (rest[j] - rest[p])
            c = self.children.get(j)
            if c is not None:
                here = posed[j] + shift  # where the chain has put joint j, targets' frame
                start = targets[j] if weights[j] > 0 else here
                Q = align(G @ (rest[c] - rest[j]), self._aim(targets[c] - start, targets[c] - here))
                local[j] = G.T @ Q @ G
                world[j] = Q @ G
            else:
                world[j] = G
        rel = posed - posed[0]
        wsum = max(float(weights.sum()), 1e-9)
        offset = ((targets - rel) * weights[:, None]).sum(0) / wsum
        return AnalyticIK(local, betas, rel + offset, offset, posed)
