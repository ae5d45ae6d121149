"""Root translation by perspective fitting: where must a posed body be so that it projects onto the
2D landmarks?

Given body joints ``P_j`` in camera orientation (x right, y down, z forward, metres) relative to
any body origin, undistorted pixels ``(u_j, v_j)`` and weights ``w_j``, find ``t`` (3,) minimising

    Σ_j w_j ‖π(P_j + t) − (u_j, v_j)‖²,   π(x, y, z) = (fx x / z + cx, fy y / z + cy).

The body's own size sets the depth. Start: the linear (DLT-style) solve of
``fx (X + tx) = (u − cx)(Z + tz)`` and ``fy (Y + ty) = (v − cy)(Z + tz)`` (exact for noise-free
data), or the previous frame's ``t`` (warm start); then a few Levenberg–Marquardt steps on the
pixel residuals with the analytic 2×3 Jacobian per joint. Everything is float64 numpy on ≤ 24
points: tens of microseconds a frame (docs/camera.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stmocap.models.camera.pinhole import Intrinsics

MIN_DEPTH = 0.05  # metres: no joint may come closer to the camera plane during the iterations
# SMPL joints (parent, child) whose lengths scale the body in the image: thighs, shins, upper arms,
# forearms, hips, shoulders, the torso's sides, feet.
SMPL_BONES = ((1, 4), (4, 7), (2, 5), (5, 8), (16, 18), (18, 20), (17, 19), (19, 21), (1, 2),
              (16, 17), (1, 16), (2, 17), (7, 10), (8, 11))


def linear_translation(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray,
                       intr: Intrinsics) -> np.ndarray:
    """Closed-form ``t (3,)`` from ``points (J, 3)``, ``pixels (J, 2)`` and ``weights (J,)``: the
    weighted least-squares solution of the two linear equations per joint (algebraic error)."""
    P = np.asarray(points, np.float64)
    uv = np.asarray(pixels, np.float64)
    w = np.sqrt(np.maximum(np.asarray(weights, np.float64), 0.0))
    du = (uv[:, 0] - intr.cx) / intr.fx  # normalised image coordinates
    dv = (uv[:, 1] - intr.cy) / intr.fy
    n = len(P)
    A = np.zeros((2 * n, 3))
    b = np.zeros(2 * n)
    A[:n, 0], A[:n, 2], b[:n] = 1.0, -du, du * P[:, 2] - P[:, 0]
    A[n:, 1], A[n:, 2], b[n:] = 1.0, -dv, dv * P[:, 2] - P[:, 1]
    ww = np.concatenate([w, w])
    t, *_ = np.linalg.lstsq(A * ww[:, None], b * ww, rcond=None)
    return t


def reprojection_residuals(points: np.ndarray, pixels: np.ndarray, t: np.ndarray,
                           intr: Intrinsics) -> np.ndarray:
    """Pixel residuals ``π(P + t) − uv`` ``(J, 2)`` (pinhole, no distortion)."""
    X = np.asarray(points, np.float64) + t
    z = np.maximum(X[:, 2], MIN_DEPTH)
    proj = np.stack([intr.fx * X[:, 0] / z + intr.cx, intr.fy * X[:, 1] / z + intr.cy], 1)
    return proj - pixels


def fit_translation(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray, intr: Intrinsics,
                    init: np.ndarray | None = None, iterations: int = 5) -> np.ndarray:
    """Translation ``t (3,)`` placing ``points (J, 3)`` on ``pixels (J, 2)`` (undistorted) under
    ``intr``; ``init``: a warm start (e.g. the track's previous ``t``), else the linear solve.
    ``iterations`` Levenberg–Marquardt steps follow (early exit when a step is below 0.1 mm)."""
    P = np.asarray(points, np.float64)
    uv = np.asarray(pixels, np.float64)
    w = np.maximum(np.asarray(weights, np.float64), 0.0)
    if (w > 0).sum() < 2:
        raise ValueError("perspective fitting needs at least two weighted points")
    t = linear_translation(P, uv, w, intr) if init is None else np.asarray(init, np.float64).copy()
    if not np.all(np.isfinite(t)) or (P[:, 2] + t[2]).min() < MIN_DEPTH:
        t = linear_translation(P, uv, w, intr)
        t[2] = max(t[2], MIN_DEPTH - P[:, 2].min())
    lam = 1e-3
    sw = np.sqrt(w)
    cost = float((w[:, None] * reprojection_residuals(P, uv, t, intr) ** 2).sum())
    for _ in range(iterations):
        X = P + t
        z = np.maximum(X[:, 2], MIN_DEPTH)
        r = reprojection_residuals(P, uv, t, intr)
        J = np.zeros((len(P), 2, 3))
        J[:, 0, 0] = intr.fx / z
        J[:, 0, 2] = -intr.fx * X[:, 0] / z ** 2
        J[:, 1, 1] = intr.fy / z
        J[:, 1, 2] = -intr.fy * X[:, 1] / z ** 2
        Jw = (J * sw[:, None, None]).reshape(-1, 3)
        rw = (r * sw[:, None]).reshape(-1)
        H = Jw.T @ Jw
        g = Jw.T @ rw
        while True:
            step = -np.linalg.solve(H + lam * np.diag(np.diag(H) + 1e-12), g)
            t_new = t + step
            if (P[:, 2] + t_new[2]).min() >= MIN_DEPTH:
                new_cost = float((w[:, None] * reprojection_residuals(P, uv, t_new, intr) ** 2).sum())
                if new_cost <= cost:
                    t, cost, lam = t_new, new_cost, max(lam / 10, 1e-9)
                    break
            lam *= 10
            if lam > 1e6:
                return t
        if np.linalg.norm(step) < 1e-4:
            break
    return t



def bone_length_depth(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray,
                      bones: Sequence[tuple[int, int]], intr: Intrinsics, ray: np.ndarray
                      ) -> float | None:
    """Depth (m) at which the bones of ``points (J, 3)`` (metres, camera orientation) have the image
    lengths of ``pixels (J, 2)`` (undistorted): ``Σ_b w_b ‖L_b⊥‖ / Σ_b w_b ‖ℓ_b‖`` over ``bones``
    (index pairs), with ``L_b⊥`` the 3D bone without its component along the unit viewing ``ray (3,)``
    (the foreshortening the 3D points themselves say), ``ℓ_b`` the 2D bone in normalised image
    coordinates (pixels / focal) and ``w_b`` the smaller weight of its two ends. Exact for a body
    small against its depth (weak perspective) and exact for any bone parallel to the image plane
    at the ray's depth. Each bone counts by its length alone, not by where its ends are, so a limb
    swapped left for right or drawn in the wrong place does not shrink it (unlike the position
    fit). ``None`` when no bone has weight or image length."""
    P = np.asarray(points, np.float64)
    uv = np.asarray(pixels, np.float64)
    w = np.asarray(weights, np.float64)
    r = np.asarray(ray, np.float64) / np.linalg.norm(ray)
    a, b = np.array([i for i, _ in bones]), np.array([j for _, j in bones])
    L = P[a] - P[b]
    L_perp = np.linalg.norm(L - (L @ r)[:, None] * r, axis=1)
    d = uv[a] - uv[b]
    ell = np.hypot(d[:, 0] / intr.fx, d[:, 1] / intr.fy)
    wb = np.minimum(w[a], w[b])
    den = float((wb * ell).sum())
    if den <= 1e-12:
        return None
    z = float((wb * L_perp).sum()) / den
    return z if np.isfinite(z) and z > MIN_DEPTH else None


def smpl_transl_from_landmarks(world: np.ndarray, pixels: np.ndarray, weights: np.ndarray,
                               intr: Intrinsics, offset: np.ndarray, root_rest: np.ndarray,
                               init: np.ndarray | None = None, iterations: int = 5,
                               bones: Sequence[tuple[int, int]] = ()
                               ) -> tuple[np.ndarray, np.ndarray]:
    """SMPL ``transl (3,)`` from the detector's own metric 3D points: ``world (J, 3)`` (BlazePose's
    world landmarks, hip-centred, camera orientation) are placed on their ``pixels (J, 2)``
    (undistorted) by :func:`fit_translation`, giving their origin ``t`` in the camera frame; the
    body that inverse kinematics fitted to those points has its root at ``offset (3,)`` in their
    frame (IK's offset), so the root is at ``p = t + offset`` and SMPL's translation is
    ``p − root_rest`` (``root_rest (3,)``: J₀(β), the body model's own root).

    With ``bones`` (index pairs into the points) the root's depth is the geometric mean of the
    fit's and :func:`bone_length_depth`'s (the root moved along its viewing ray, so it projects
    where the fit put it): two estimates of one depth with different failure modes — the fit is
    shrunk by landmarks in the wrong place, the bone lengths by a wrong foreshortening.

    Why these points and not the posed body's joints: the 2D and 3D landmarks come from the same
    network for the same image, so their scales agree even when the pose is misread (a crawling
    body: BlazePose's 2D shrinks, and so do its world landmarks), while the IK body's size (β)
    and foreshortening add their own errors (docs/camera.md). Returns ``(transl, t)``; ``t`` (the
    fit's own, not blended) is the warm start of the next frame (``init``)."""
    t = fit_translation(world, pixels, weights, intr, init=init, iterations=iterations)
    root = t + np.asarray(offset, np.float64)
    if bones and root[2] > MIN_DEPTH:
        z = bone_length_depth(world, pixels, weights, bones, intr, root)
        if z is not None:
            root = root * np.sqrt(z / root[2])
    return root - np.asarray(root_rest, np.float64), t
