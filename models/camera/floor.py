"""A gravity-aligned world frame with the floor at height 0, for a static camera, from ground contact.

Method (causal, per stream): each frame, the body's lowest mesh vertex along the current "up"
estimate is where it touches the floor, if it stands still (that vertex moved less than
``contact_speed`` since the previous frame): a foot sole when walking, a hand or the back when
crawling or rolling; airborne or sliding lowest points are not contacts. The contacts of the last
``history`` frames are fitted by a plane ``n · p = −h`` (camera frame, ``n`` the unit up normal,
``h`` the camera's height above the floor): total least squares with soft priors that the camera
is level — not rolled (``level_sigma``), not pitched (``pitch_sigma``, weaker than the data once
the contacts spread over a metre in depth) — so contacts on a line (walking straight) or in one
spot (dancing in place) still give a plane; two trimming passes drop points more than ``trim``
metres off it. (An optional pull toward the body's mean up direction, pelvis → neck, is off by
default: the shipped clips' true torsos lean 5–33° on average.)
The estimate is *stable* when enough contacts were seen, spread widely
enough in depth to tilt the plane in pitch (std ≥ ``min_spread`` along the floor's forward
direction: a person walking to and from the camera, not staying at one distance), on the plane
(RMS ≤ ``max_rms``), and pitch, roll and height
varied less than ``stable_deg`` / ``stable_height`` over the last ``window`` frames. A moving
camera (out of scope) drifts the estimate or scatters the contacts off any plane, and shows as
``stable = False``; so does one that follows the person (contacts stay in one spot).

World frame (``T_world_cam``: camera → world): y up along ``n``, the floor at y = 0, the origin on
the floor under the camera, z the camera's forward direction projected on the floor, x = y × z
(right-handed, as SMPL's y-up world). Camera pitch: the angle of the optical axis below the
horizon (positive: looking down); roll: rotation about the optical axis, ``atan2(n_x, −n_y)``
(0 for a level image).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

NECK, PELVIS = 12, 0


@dataclass(frozen=True)
class FloorConfig:
    """Contact detection, fitting and stability thresholds of :class:`FloorEstimator`."""

    contact_speed: float = 0.6  # m/s: the lowest vertex is a contact when slower
    history: int = 900  # frames of contacts kept
    prior_sigma: float = 0.0  # m: contacts spread less than this leave n to the body's up prior
    level_sigma: float = 0.05  # m: the same for the prior that the camera is not rolled
    pitch_sigma: float = 0.02  # m: the same for the prior that the camera is not pitched
    depth_noise: float = 0.0  # relative depth noise along the viewing rays, removed from the scatter
    trim: float = 0.08  # m: contacts farther off the plane are dropped
    min_contacts: int = 30
    min_spread: float = 0.3  # m: std of the contacts along the floor's forward direction
    window: int = 30  # frames over which the estimate must hold still to be stable
    stable_deg: float = 2.0
    stable_height: float = 0.06  # m
    max_rms: float = 0.04  # m


@dataclass(frozen=True)
class WorldFrame:
    """One frame's world-frame estimate: ``T_world_cam (4, 4)``, the up normal ``n (3,)`` and camera
    ``height`` (m), ``pitch``/``roll`` (degrees), contacts used, their ``spread`` (m, std along the
    floor's forward direction), and whether it is stable."""

    T_world_cam: np.ndarray
    normal: np.ndarray
    height: float
    pitch: float
    roll: float
    contacts: int
    spread: float
    stable: bool


def normal_from_angles(pitch_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    """World up in camera coordinates for a camera pitched down by ``pitch_deg`` and rolled by
    ``roll_deg`` (inverse of :func:`angles_from_normal`)."""
    p, r = math.radians(pitch_deg), math.radians(roll_deg)
    # level camera: up = −y; pitch rotates it toward −z; roll toward +x
    n = np.array([math.sin(r) * math.cos(p), -math.cos(r) * math.cos(p), -math.sin(p)])
    return n / np.linalg.norm(n)


def angles_from_normal(n: np.ndarray) -> tuple[float, float]:
    """``(pitch, roll)`` degrees of a camera seeing world up as ``n (3,)`` (camera frame)."""
    n = np.asarray(n, np.float64) / np.linalg.norm(n)
    pitch = math.degrees(math.asin(float(np.clip(-n[2], -1, 1))))
    roll = math.degrees(math.atan2(float(n[0]), float(-n[1])))
    return pitch, roll


def world_from_floor(n: np.ndarray, height: float) -> np.ndarray:
    """``T_world_cam (4, 4)`` for up normal ``n`` (camera frame) and camera ``height`` (see module
    docstring)."""
    y = np.asarray(n, np.float64) / np.linalg.norm(n)
    z = np.array([0.0, 0.0, 1.0]) - y[2] * y
    if np.linalg.norm(z) < 1e-6:  # looking straight down/up: use the image's up direction
        z = np.array([0.0, -1.0, 0.0]) - y[1] * y
    z /= np.linalg.norm(z)
    x = np.cross(y, z)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z])  # rows: world axes in camera coordinates
    T[:3, 3] = [0.0, height, 0.0]
    return T


def fit_floor(points: np.ndarray, weights: np.ndarray, up_prior: np.ndarray,
              prior_sigma: float = 0.0, level_sigma: float = 0.0, pitch_sigma: float = 0.0,
              depth_noise: float = 0.0) -> tuple[np.ndarray, float, float]:
    """Plane ``n · p = −h`` through ``points (N, 3)`` (camera frame) with ``weights (N,)``: the
    smallest eigenvector of the weighted scatter plus ``prior_sigma² (I − u uᵀ)`` (a soft pull of
    ``n`` to the unit ``up_prior`` u), ``level_sigma² e_x e_xᵀ`` (a soft pull to no roll) and
    ``pitch_sigma² e_z e_zᵀ`` (to no pitch), minus the scatter that depth noise alone would make
    (``depth_noise`` · distance along each point's viewing ray: a monocular estimate slides points
    along their rays, which would otherwise tilt the plane toward them). Returns
    ``(n (3,) with n·u > 0, h, rms)``."""
    P = np.asarray(points, np.float64)
    w = np.asarray(weights, np.float64)
    u = np.asarray(up_prior, np.float64) / np.linalg.norm(up_prior)
    mean = (w[:, None] * P).sum(0) / w.sum()
    D = P - mean
    M = (w[:, None, None] * D[:, :, None] * D[:, None, :]).sum(0) / w.sum()
    if depth_noise:
        dist = np.linalg.norm(P, axis=1)
        rays = P / np.maximum(dist, 1e-9)[:, None]
        noise = (w * (depth_noise * dist) ** 2)[:, None, None] * rays[:, :, None] * rays[:, None, :]
        M = M - noise.sum(0) / w.sum()
    M = M + prior_sigma ** 2 * (np.eye(3) - np.outer(u, u))
    M[0, 0] += level_sigma ** 2
    M[2, 2] += pitch_sigma ** 2
    _, vecs = np.linalg.eigh(M)
    n = vecs[:, 0]
    if n @ u < 0:
        n = -n
    h = -float(n @ mean)
    rms = float(np.sqrt((w * (D @ n) ** 2).sum() / w.sum()))
    return n, h, rms


def robust_floor(points: np.ndarray, up_prior: np.ndarray, prior_sigma: float, trim: float,
                 fixed_normal: np.ndarray | None = None, level_sigma: float = 0.0,
                 pitch_sigma: float = 0.0, depth_noise: float = 0.0
                 ) -> tuple[np.ndarray, float, float, int, float]:
    """:func:`fit_floor` with two trimming passes (points over ``trim`` m off the plane dropped);
    with ``fixed_normal`` only the height is fitted. Returns ``(n, h, rms, inliers, spread)``
    (spread: the inliers' standard deviation along the floor's forward direction, which is what
    tilts the plane in pitch, m)."""
    P = np.asarray(points, np.float64)
    keep = np.ones(len(P), bool)
    for _ in range(3):
        if fixed_normal is not None:
            n = np.asarray(fixed_normal, np.float64)
            h = -float(np.median(P[keep] @ n))
            rms = float(np.sqrt(np.mean((P[keep] @ n + h) ** 2)))
        else:
            n, h, rms = fit_floor(P[keep], np.ones(keep.sum()), up_prior, prior_sigma, level_sigma,
                                  pitch_sigma, depth_noise)
        resid = np.abs(P @ n + h)
        new = resid <= max(trim, 2.5 * rms) if rms > trim else resid <= trim
        if new.sum() < 3 or np.array_equal(new, keep):
            break
        keep = new
    inl = P[keep]
    forward = np.array([0.0, 0.0, 1.0]) - n[2] * n  # the optical axis along the floor
    forward /= max(float(np.linalg.norm(forward)), 1e-9)
    spread = float(np.std(inl @ forward))
    return n, h, rms, int(keep.sum()), spread


@dataclass
class FloorEstimator:
    """Causal world-frame estimate of a static camera from the bodies it sees (one per stream).

    ``height``/``pitch`` (metres, degrees; roll then 0): given values are used instead of
    estimates (both given: a fixed frame, always stable)."""

    config: FloorConfig = field(default_factory=FloorConfig)
    height: float | None = None
    pitch: float | None = None
    _contacts: deque = field(default_factory=deque)
    _up_sum: np.ndarray = field(default_factory=lambda: np.zeros(3))
    _previous: dict[int, tuple[np.ndarray, float]] = field(default_factory=dict)
    _recent: deque = field(default_factory=deque)
    _normal: np.ndarray | None = None

    def _up_prior(self) -> np.ndarray:
        if self.pitch is not None:
            return normal_from_angles(self.pitch)
        if np.linalg.norm(self._up_sum) < 1e-9:
            return np.array([0.0, -1.0, 0.0])
        return self._up_sum / np.linalg.norm(self._up_sum)

    def update(self, vertices: np.ndarray, joints: np.ndarray, t: float, track: int = 0) -> WorldFrame:
        """Add one body (camera frame: ``vertices (V, 3)``, ``joints (24, 3)``, at ``t`` seconds) and
        return the current estimate."""
        cfg = self.config
        V = np.asarray(vertices, np.float64)
        torso = np.asarray(joints[NECK] - joints[PELVIS], np.float64)
        if np.linalg.norm(torso) > 1e-6:
            self._up_sum = self._up_sum + torso / np.linalg.norm(torso)  # pelvis → neck points up
        up = self._normal if self._normal is not None else self._up_prior()
        idx = int(np.argmin(V @ up))
        prev = self._previous.get(track)
        # the same vertex one frame apart: its speed, not the jump between two vertices
        if (prev is not None and t > prev[1]
                and np.linalg.norm(V[idx] - prev[0][idx]) / (t - prev[1]) < cfg.contact_speed):
            self._contacts.append(V[idx].copy())
            if len(self._contacts) > cfg.history:
                self._contacts.popleft()
        self._previous[track] = (V, t)
        return self._estimate()

    def _estimate(self) -> WorldFrame:
        cfg = self.config
        prior = self._up_prior()
        fixed = normal_from_angles(self.pitch) if self.pitch is not None else None
        n, h, rms, inliers, spread = prior, self.height if self.height is not None else 1.5, 0.0, 0, 0.0
        if len(self._contacts) >= 3 and (fixed is None or self.height is None):
            n, h, rms, inliers, spread = robust_floor(np.stack(self._contacts), prior,
                                                      cfg.prior_sigma, cfg.trim, fixed,
                                                      cfg.level_sigma, cfg.pitch_sigma,
                                                      cfg.depth_noise)
        elif fixed is not None:
            n = fixed
        if self.height is not None:
            h = self.height
        self._normal = n
        pitch, roll = angles_from_normal(n)
        self._recent.append((pitch, roll, h))
        if len(self._recent) > cfg.window:
            self._recent.popleft()
        if self.height is not None and self.pitch is not None:
            stable = True
        else:
            hist = np.array(self._recent)
            stable = (inliers >= cfg.min_contacts and len(hist) >= cfg.window
                      and (spread >= cfg.min_spread or fixed is not None)
                      and float(np.ptp(hist[:, 0])) <= cfg.stable_deg
                      and float(np.ptp(hist[:, 1])) <= cfg.stable_deg
                      and float(np.ptp(hist[:, 2])) <= cfg.stable_height
                      and rms <= cfg.max_rms and h > 0)
        return WorldFrame(world_from_floor(n, h), n, float(h), pitch, roll, inliers, spread,
                          bool(stable))
