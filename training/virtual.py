"""Training pairs without rendering ("unrendered pairs", issue 12): more motion than the renders.

Rendered pairs are few (each clip × view costs a render and a BlazePose pass). Here the truth
motions of rendered training tables (``pose`` with the root in the camera frame, ``joints3D``)
are turned into new sequences — the person turned about the camera's vertical axis through the
pelvis (a new view) and replayed faster or slower (time-warped) — and mapped to *virtual*
BlazePose outputs by a regressor fitted on the rendered frames (truth → BlazePose's own
features), plus noise with BlazePose's measured per-feature spread and frame-to-frame
correlation (an AR(1) process per feature). The per-frame initialisation Θ_init / ω_init then
comes from the lite profile's own per-frame stage (:class:`~stmocap.realtime.stages.lite.IKPerFrame`)
on those virtual landmarks, so the network sees what a stream would give it.

Frames: the camera's (x right, y down, z away); image coordinates in units of the detection box
(centre 0, half side 1), as :func:`~stmocap.models.temporal.features.blazepose_features` writes
them. The regressor (:class:`FeatureRegressor`), per landmark k of BlazePose's 33:

- image x, y:  Σ_j A_kj · p_j + a_k     (p_j: joint j's 2D position in box units)
- image z:     Σ_j C_kj · s (z_j − z_0) + c_k  (relative depth in box units, s = box units per metre)
- world x,y,z: Σ_j W_kj · (X_j − X_0) + w_k  (root-relative joints, metres, camera orientation)
- visibility:  its mean over the rendered frames

— each a least-squares fit shared across coordinates (24 weights per landmark, like a joint
regressor). The box is a square around the projected joints, scaled as BlazePose's were on the
rendered frames (their median extent in box units). What this cannot give: BlazePose's
pose-dependent failures (a limb swapped, a depth flipped), which only the rendered pairs carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from stmocap.models.temporal.features import FEATURE_DIM

from stmocap.validate import AT_LEAST_ONE, NON_NEGATIVE, Range

LANDMARKS = 33
IMAGE_DIM = LANDMARKS * 4  # x, y, z, visibility per landmark, then 33 × 3 world


@dataclass(frozen=True)
class VirtualConfig:
    """How many unrendered sequences are made from each rendered one."""

    views: int = field(default=4, metadata={"check": AT_LEAST_ONE,
        "help": "new sequences per rendered sequence (each a random turn and speed)"})
    max_turn: float = field(default=180.0, metadata={"check": NON_NEGATIVE,
        "help": "the person is turned about the vertical by up to ± this many degrees"})
    min_speed: float = field(default=0.7, metadata={"check": Range(0.1, 10),
        "help": "replay speed drawn log-uniformly from --min-speed to --max-speed (1: as captured)"})
    max_speed: float = field(default=1.4, metadata={"check": Range(0.1, 10), "help": "see --min-speed"})
    noise: float = field(default=1.0, metadata={"check": NON_NEGATIVE,
        "help": "scale of the measured BlazePose noise (0: none)"})
    seed: int = field(default=0, metadata={"help": "everything random comes from this"})


@dataclass(frozen=True)
class FeatureRegressor:
    """Truth → BlazePose features (module docstring); ``noise_std``, ``noise_rho (231,)`` the
    residuals' spread and lag-1 correlation on the rendered frames it was fitted on."""

    image_xy: np.ndarray  # (33, 24)
    image_xy_bias: np.ndarray  # (33, 2)
    image_z: np.ndarray  # (33, 24)
    image_z_bias: np.ndarray  # (33,)
    world: np.ndarray  # (33, 24)
    world_bias: np.ndarray  # (33, 3)
    visibility: np.ndarray  # (33,)
    box_extent: float  # median extent of the joints in box units (the box's tightness)
    noise_std: np.ndarray  # (231,)
    noise_rho: np.ndarray  # (231,)
    frames: int  # rendered frames fitted on

    def predict(self, joints3d: np.ndarray, joints2d: np.ndarray) -> np.ndarray:
        """``joints3d (T, 24, 3)`` camera frame, ``joints2d (T, 24, 2)`` box units → noise-free
        features ``(T, 231)``."""
        T = len(joints3d)
        rel = joints3d - joints3d[:, :1]
        scale = _box_units_per_metre(joints3d, joints2d)[:, None]  # (T, 1)
        xy = np.einsum("kj,tjc->tkc", self.image_xy, joints2d) + self.image_xy_bias
        z = np.einsum("kj,tj->tk", self.image_z, rel[..., 2] * scale) + self.image_z_bias
        vis = np.broadcast_to(self.visibility, (T, LANDMARKS))
        image = np.concatenate([xy, z[..., None], vis[..., None]], -1).reshape(T, IMAGE_DIM)
        world = np.einsum("kj,tjc->tkc", self.world, rel) + self.world_bias
        return np.concatenate([image, world.reshape(T, -1)], -1).astype(np.float32)

    def noise(self, T: int, rng: np.random.Generator, scale: float = 1.0,
              stats: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """AR(1) noise ``(T, 231)`` with the measured spread and lag-1 correlation (``stats``:
        another ``(std, rho)``, e.g. one sequence's own)."""
        std, rho = stats if stats is not None else (self.noise_std, self.noise_rho)
        out = np.empty((T, FEATURE_DIM))
        out[0] = rng.normal(size=FEATURE_DIM)
        for t in range(1, T):
            out[t] = rho * out[t - 1] + np.sqrt(1 - rho ** 2) * rng.normal(size=FEATURE_DIM)
        return (scale * std * out).astype(np.float32)

    def summary(self) -> dict[str, float]:
        """How well the regressor reproduces BlazePose: residual RMS per part (box units, metres)
        and the mean lag-1 correlation of the residuals."""
        s = self.noise_std
        xy = s[:IMAGE_DIM].reshape(LANDMARKS, 4)[:, :2]
        return {"frames": float(self.frames), "image_xy_rms": float(np.sqrt((xy ** 2).mean())),
                "world_rms_m": float(np.sqrt((s[IMAGE_DIM:] ** 2).mean())),
                "rho_mean": float(self.noise_rho.mean())}


def _box_units_per_metre(joints3d: np.ndarray, joints2d: np.ndarray) -> np.ndarray:
    """``(T,)``: the 2D spread of the joints over their 3D spread across the image plane."""
    d2 = joints2d - joints2d.mean(1, keepdims=True)
    d3 = joints3d[..., :2] - joints3d[..., :2].mean(1, keepdims=True)
    return np.sqrt((d2 ** 2).sum((1, 2)) / np.maximum((d3 ** 2).sum((1, 2)), 1e-9))


def _shared_fit(x: np.ndarray, y: np.ndarray, ridge: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Per landmark, weights over joints shared across coordinates plus a bias per coordinate:
    ``x (N, J, C)``, ``y (N, K, C)`` → ``weights (K, J)``, ``bias (K, C)``."""
    N, J, C = x.shape
    K = y.shape[1]
    # Centre per coordinate: the biases drop out, the weights are shared.
    xc = x - x.mean(0)
    yc = y - y.mean(0)
    A = xc.transpose(0, 2, 1).reshape(N * C, J)  # rows: (frame, coordinate)
    M = A.T @ A + ridge * np.trace(A.T @ A) / J * np.eye(J)
    W = np.linalg.solve(M, A.T @ yc.transpose(0, 2, 1).reshape(N * C, K)).T  # (K, J)
    bias = y.mean(0) - np.einsum("kj,jc->kc", W, x.mean(0))
    return W, bias


def sequences(vid_name: np.ndarray) -> Iterator[slice]:
    """Contiguous runs of equal ``vid_name`` (one rendered sequence each)."""
    start = 0
    for i in range(1, len(vid_name) + 1):
        if i == len(vid_name) or vid_name[i] != vid_name[start]:
            yield slice(start, i)
            start = i


def fit_regressor(tables: list[dict[str, np.ndarray]]) -> FeatureRegressor:
    """Fit on the valid rows of rendered tables (``features``, ``joints3D``, ``joints2D``,
    ``valid``, ``vid_name``: :mod:`stmocap.training.generate`'s layout)."""
    feats, j3d, j2d, valid = (np.concatenate([np.asarray(t[k]) for t in tables])
                              for k in ("features", "joints3D", "joints2D", "valid"))
    names = np.concatenate([np.asarray(t["vid_name"]).astype(str) for t in tables])
    valid = valid.astype(bool)
    if valid.sum() < 100:
        raise ValueError(f"the regressor needs ≥ 100 detected rendered frames, got {int(valid.sum())}")
    f, J3, J2 = feats[valid].astype(np.float64), j3d[valid].astype(np.float64), j2d[valid, :, :2]
    image = f[:, :IMAGE_DIM].reshape(-1, LANDMARKS, 4)
    world = f[:, IMAGE_DIM:].reshape(-1, LANDMARKS, 3)
    rel = J3 - J3[:, :1]
    A, a = _shared_fit(J2.astype(np.float64), image[..., :2])
    dz = (rel[..., 2] * _box_units_per_metre(J3, J2)[:, None])[..., None]
    C, c = _shared_fit(dz, image[..., 2:3])
    W, w = _shared_fit(rel, world)
    extent = np.median(np.max(J2.max(1) - J2.min(1), axis=-1))
    partial = FeatureRegressor(A, a, C, c[:, 0], W, w, image[..., 3].mean(0), float(extent),
                               np.zeros(FEATURE_DIM), np.zeros(FEATURE_DIM), int(valid.sum()))
    std, rho = residual_stats(partial, feats, j3d, j2d, valid, names)
    return replace(partial, noise_std=std, noise_rho=rho)


def residual_stats(reg: FeatureRegressor, feats: np.ndarray, joints3d: np.ndarray,
                   joints2d: np.ndarray, valid: np.ndarray, names: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Spread ``(231,)`` and lag-1 correlation ``(231,)`` of BlazePose's features about the
    regressor's prediction, over the valid frames (correlation: consecutive valid frames of one
    sequence, ``names`` per row)."""
    valid = np.asarray(valid, bool)
    resid = np.zeros(feats.shape, np.float64)
    resid[valid] = feats[valid] - reg.predict(joints3d[valid].astype(np.float64),
                                              joints2d[valid, :, :2].astype(np.float64))
    std = resid[valid].std(0)
    num = den = np.zeros(FEATURE_DIM)
    for sl in sequences(names):
        r, v = resid[sl], valid[sl]
        both = v[1:] & v[:-1]
        num = num + (r[1:][both] * r[:-1][both]).sum(0)
        den = den + (r[1:][both] ** 2 + r[:-1][both] ** 2).sum(0) / 2
    return std, np.clip(num / np.maximum(den, 1e-12), 0.0, 0.99)


def box_coords(joints3d: np.ndarray, extent: float) -> np.ndarray:
    """``joints3d (T, 24, 3)`` camera frame → ``(T, 24, 2)`` in units of a square box centred on
    the projected joints' bounding box, ``extent`` box units across their longer side."""
    uv = joints3d[..., :2] / np.maximum(joints3d[..., 2:3], 1e-3)
    lo, hi = uv.min(1, keepdims=True), uv.max(1, keepdims=True)
    half = np.max(hi - lo, axis=-1, keepdims=True) / extent
    return (uv - (lo + hi) / 2) / np.maximum(half, 1e-9)


def turn(pose: np.ndarray, joints3d: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The person turned by ``degrees`` about the camera's vertical axis through the pelvis:
    ``pose (T, 72)`` axis-angle (root in the camera frame), ``joints3d (T, 24, 3)``."""
    a = np.radians(degrees)
    R = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    root = axis_angle_to_matrix(torch.from_numpy(pose[:, :3].astype(np.float64)))
    root = torch.from_numpy(R) @ root
    out = pose.copy()
    out[:, :3] = matrix_to_axis_angle(root).numpy()
    pelvis = joints3d[:, :1]
    return out, (joints3d - pelvis) @ R.T + pelvis


def time_warp(pose: np.ndarray, joints3d: np.ndarray, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """Replayed ``speed`` times as fast: rotations blended between neighbouring frames and
    re-orthonormalised, joints interpolated linearly. ``(T, 72)``, ``(T, 24, 3)`` → ``(T', …)``."""
    T = len(pose)
    s = np.arange(0.0, T - 1 + 1e-9, speed)
    i = np.minimum(s.astype(int), T - 2) if T > 1 else np.zeros(len(s), int)
    frac = (s - i)[:, None] if T > 1 else np.zeros((len(s), 1))
    j = np.minimum(i + 1, T - 1)
    Rm = axis_angle_to_matrix(torch.from_numpy(pose.reshape(T, 24, 3).astype(np.float64))).numpy()
    blend = (1 - frac[..., None, None]) * Rm[i] + frac[..., None, None] * Rm[j]
    U, _, Vt = np.linalg.svd(blend)
    d = np.sign(np.linalg.det(U @ Vt))
    U[..., :, -1] *= d[..., None]
    rot = U @ Vt
    aa = matrix_to_axis_angle(torch.from_numpy(rot)).numpy().reshape(len(s), 72)
    joints = (1 - frac[..., None]) * joints3d[i] + frac[..., None] * joints3d[j]
    return aa.astype(np.float32), joints.astype(np.float32)


def virtual_rows(regressor: FeatureRegressor, pose: np.ndarray, shape: np.ndarray,
                 joints3d: np.ndarray, name: str, rng: np.random.Generator, perframe: Any,
                 noise: float = 1.0, stats: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> dict[str, np.ndarray]:
    """One unrendered sequence in the training-table layout from its truth ``pose (T, 72)``,
    ``shape (T, 10)``, ``joints3d (T, 24, 3)``; ``perframe``: the lite per-frame stage that
    gives Θ_init / ω_init from the virtual landmarks; ``stats``: the noise's (std, rho)."""
    from stmocap.realtime.messages import Message

    T = len(pose)
    j2d = box_coords(joints3d, regressor.box_extent)
    feats = regressor.predict(joints3d, j2d) + regressor.noise(T, rng, noise, stats)
    image = feats[:, :IMAGE_DIM].reshape(T, LANDMARKS, 4)
    image[..., 3] = np.clip(image[..., 3], 0.0, 1.0)
    world = feats[:, IMAGE_DIM:].reshape(T, LANDMARKS, 3)
    # A 2 × 2 image whose box is the whole image: box units are image pixels minus 1, so the
    # per-frame stage sees exactly these features.
    landmarks = np.concatenate([(image[..., :2] + 1) / 2, image[..., 2:3] / 2, image[..., 3:4],
                                np.ones((T, LANDMARKS, 1))], -1).astype(np.float32)
    init_pose = np.zeros((T, 144), np.float32)
    init_shape = np.zeros((T, 10), np.float32)
    init_cam = np.zeros((T, 3), np.float32)
    out_feats = np.zeros((T, FEATURE_DIM), np.float32)
    box = np.array([[0.0, 0.0, 2.0, 2.0]], np.float32)
    for t in range(T):
        msg = Message(kind="detections", seq=t, arrays={
            "track_ids": np.array([0]), "boxes": box, "landmarks": landmarks[t:t + 1],
            "world": world[t:t + 1].astype(np.float32)}, meta={"image_size": [2, 2]})
        e = perframe.process(msg)[0].arrays
        init_pose[t], init_shape[t], init_cam[t] = e["pose_6d"][0].reshape(-1), e["betas"][0], e["cam"][0]
        out_feats[t] = e["feats"][0]
    j2 = np.concatenate([j2d, np.ones((T, 24, 1))], -1).astype(np.float32)
    return {"vid_name": np.array([name] * T), "frame_id": np.arange(T), "features": out_feats,
            "init_pose": init_pose, "init_shape": init_shape, "init_cam": init_cam,
            "pose": pose.astype(np.float32), "shape": shape.astype(np.float32),
            "joints3D": joints3d.astype(np.float32), "joints2D": j2, "valid": np.ones(T, bool)}


def virtual_table(tables: list[dict[str, np.ndarray]], cfg: VirtualConfig, perframe: Any,
                  regressor: FeatureRegressor | None = None,
                  progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """``cfg.views`` unrendered sequences from every rendered sequence of ``tables`` (its truth:
    turned and time-warped), as one table; the regressor is fitted on ``tables`` unless given."""
    reg = regressor or fit_regressor(tables)
    rng = np.random.default_rng(cfg.seed)
    parts = []
    if cfg.min_speed > cfg.max_speed:
        raise ValueError(f"--min-speed {cfg.min_speed:g} is above --max-speed {cfg.max_speed:g}")
    lo, hi = np.log(cfg.min_speed), np.log(cfg.max_speed)
    for table in tables:
        names = np.asarray(table["vid_name"]).astype(str)
        for sl in sequences(names):
            if sl.stop - sl.start < 16:
                continue
            pose, shape, j3d = (np.asarray(table[k][sl], np.float64) for k in ("pose", "shape", "joints3D"))
            # BlazePose errs more on a backflip than on a walk: each copy gets the noise measured
            # on its own rendered sequence.
            stats = residual_stats(reg, np.asarray(table["features"][sl]), j3d,
                                   np.asarray(table["joints2D"][sl]), np.asarray(table["valid"][sl]),
                                   names[sl])
            for v in range(cfg.views):
                p, j = turn(pose, j3d, float(rng.uniform(-cfg.max_turn, cfg.max_turn)))
                p, j = time_warp(p, j, float(np.exp(rng.uniform(lo, hi))))
                sh = np.broadcast_to(shape[:1], (len(p), shape.shape[1]))
                parts.append(virtual_rows(reg, p, sh, j.astype(np.float64),
                                          f"{names[sl.start]}/virtual{v}", rng,
                                          perframe, cfg.noise, stats))
                if progress:
                    progress(len(p))
    if not parts:
        raise ValueError("no rendered sequence of ≥ 16 frames to make unrendered ones from")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
