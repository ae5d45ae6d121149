"""Perspective translation fitting and the floor (world frame) estimate, on synthetic truth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.evaluation.world_metrics import rte, w_mpjpe
from stmocap.models.camera import (
    SMPL_BONES,
    Intrinsics,
    bone_length_depth,
    fit_translation,
    linear_translation,
    project_points,
    smpl_transl_from_landmarks,
)
from stmocap.models.camera.floor import (
    FloorEstimator,
    angles_from_normal,
    normal_from_angles,
    world_from_floor,
)

INTR = Intrinsics(554.0, 556.0, 318.0, 243.0, (640, 480))


def _body(seed: int) -> np.ndarray:
    """24 points the size of a person (1.7 m tall), root-relative, camera orientation."""
    rng = np.random.default_rng(seed)
    return rng.uniform([-0.3, -0.9, -0.2], [0.3, 0.8, 0.2], (24, 3))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), tx=st.floats(-1.5, 1.5), ty=st.floats(-1.0, 1.0),
       tz=st.floats(2.0, 12.0), warm=st.booleans())
def test_translation_is_recovered_exactly_from_its_projection(seed: int, tx: float, ty: float,
                                                              tz: float, warm: bool) -> None:
    P = _body(seed)
    t = np.array([tx, ty, tz])
    uv = project_points(P + t, INTR)
    w = np.random.default_rng(seed).uniform(0.2, 1.0, 24)
    assert np.allclose(linear_translation(P, uv, w, INTR), t, atol=1e-6)  # exact without noise
    init = t + np.array([0.2, -0.1, 0.8]) if warm else None  # warm start from a nearby frame
    assert np.allclose(fit_translation(P, uv, w, INTR, init=init, iterations=20), t, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), tz=st.floats(2.0, 10.0), warm=st.booleans())
def test_smpl_transl_from_world_landmarks_puts_the_ik_body_where_it_projects(seed: int, tz: float,
                                                                            warm: bool) -> None:
    """Known answer: a posed body (root at J₀(β)) at SMPL translation ``s``; the detector's world
    points are that body in its own hip-centred frame (IK offset ``o``); their pixels are the
    body's projection. The helper returns ``s``, and the body ``posed + s`` projects onto them."""
    rng = np.random.default_rng(seed)
    root_rest = rng.uniform(-0.1, 0.1, 3) + np.array([0.0, -0.2, 0.0])  # J₀(β) of a body model
    body = _body(seed)
    posed = body - body[0] + root_rest  # the body model's joints, root at J₀(β)
    offset = rng.uniform(-0.1, 0.1, 3)  # where IK put the root in the landmarks' frame
    world = posed - posed[0] + offset  # the landmarks the IK body fits (noise-free)
    s = np.array([rng.uniform(-1, 1), rng.uniform(-0.5, 0.5), tz])
    uv = project_points(posed + s, INTR)
    init = (s - offset + root_rest) + np.array([0.1, 0.0, 0.5]) if warm else None
    transl, t = smpl_transl_from_landmarks(world, uv, np.ones(24), INTR, offset, posed[0], init=init,
                                           iterations=20)
    assert np.allclose(transl, s, atol=1e-5)
    assert np.allclose(t, s - offset + root_rest, atol=1e-5)  # the landmarks' origin: next warm start
    assert np.abs(project_points(posed + transl, INTR) - uv).max() < 1e-3
    # With the bone-length depth blended in, the root stays on its viewing ray, within the
    # weak-perspective error of the bone lengths (the body's depth over its distance).
    blended, t2 = smpl_transl_from_landmarks(world, uv, np.ones(24), INTR, offset, posed[0],
                                             init=init, iterations=20, bones=SMPL_BONES)
    assert np.allclose(t2, t, atol=1e-6)  # the warm start stays the fit's own
    root, true_root = blended + root_rest, s + root_rest
    assert abs(root[2] - true_root[2]) / true_root[2] < 0.4 / tz
    assert np.allclose(project_points(root[None], INTR), project_points(true_root[None], INTR), atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.5, 0.9))
def test_a_shrunk_detection_moves_the_body_away_by_the_same_factor(seed: int, scale: float) -> None:
    """Why the detector's own 3D points are used: when its 2D and 3D landmarks shrink together
    (a misread pose), the depth is unchanged; the true-size body fitted to the shrunk 2D would be
    placed 1/scale too far."""
    P = _body(seed)
    t = np.array([0.1, 0.2, 4.0])
    centre = project_points(t[None], INTR)[0]
    uv = centre + scale * (project_points(P + t, INTR) - centre)  # the 2D shrunk about the root
    w = np.ones(24)
    consistent = fit_translation(scale * P, uv, w, INTR, iterations=20)
    assert abs(consistent[2] - t[2]) / t[2] < 0.02
    true_size = fit_translation(P, uv, w, INTR, iterations=20)
    assert true_size[2] / t[2] > 0.95 / scale


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), tz=st.floats(1.5, 12.0))
def test_bone_length_depth_is_exact_for_bones_parallel_to_the_image_plane(seed: int, tz: float) -> None:
    rng = np.random.default_rng(seed)
    P = _body(seed)
    P[:, 2] = 0.0  # every joint at one depth: each bone parallel to the image plane
    t = np.array([rng.uniform(-1, 1), rng.uniform(-0.5, 0.5), tz])
    uv = project_points(P + t, INTR)
    w = rng.uniform(0.1, 1.0, 24)
    z = bone_length_depth(P, uv, w, SMPL_BONES, INTR, np.array([0.0, 0.0, 1.0]))
    assert z is not None and abs(z - tz) < 1e-9 * tz


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), tz=st.floats(3.0, 12.0))
def test_bone_length_depth_of_a_foreshortened_body_and_its_per_bone_bound(seed: int, tz: float) -> None:
    """A body in depth: the estimate (foreshortening taken from the 3D bones) is within the weak-
    perspective error (body depth / distance); every single bone bounds the depth from above,
    z ≤ f·L/ℓ, up to that same error (equality for a bone parallel to the image plane)."""
    P = _body(seed)
    t = np.array([0.3, 0.1, tz])
    uv = project_points(P + t, INTR)
    w = np.ones(24)
    rel = 0.2 / tz + 0.2 / tz  # the body's half depth over the distance, twice (both bone ends)
    z = bone_length_depth(P, uv, w, SMPL_BONES, INTR, t / np.linalg.norm(t))
    assert z is not None and abs(z - tz) / tz < rel
    for a, b in SMPL_BONES:
        L = np.linalg.norm(P[a] - P[b])
        ell = np.hypot(*((uv[a] - uv[b]) / [INTR.fx, INTR.fy]))
        assert tz <= L / ell * (1 + rel)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_limbs_swapped_left_for_right_shrink_the_fit_not_the_bone_lengths(seed: int) -> None:
    P = _body(seed)
    t = np.array([0.0, 0.2, 4.0])
    uv = project_points(P + t, INTR)
    swapped = uv.copy()
    for left, right in ((1, 2), (4, 5), (7, 8), (10, 11), (16, 17), (18, 19), (20, 21)):
        swapped[[left, right]] = uv[[right, left]]
    w = np.ones(24)
    bones = [b for b in SMPL_BONES if b not in ((1, 16), (2, 17))]  # torso sides cross over
    ray = t / np.linalg.norm(t)
    same = bone_length_depth(P, uv, w, bones, INTR, ray)
    assert same is not None and bone_length_depth(P, swapped, w, bones, INTR, ray) == pytest.approx(same)
    assert fit_translation(P, swapped, w, INTR, iterations=20)[2] > fit_translation(P, uv, w, INTR)[2]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), tz=st.floats(2.0, 8.0))
def test_pixel_noise_gives_a_proportionate_depth_error(seed: int, tz: float) -> None:
    rng = np.random.default_rng(seed)
    P = _body(seed)
    t = np.array([0.2, 0.1, tz])
    uv = project_points(P + t, INTR) + rng.normal(0, 1.0, (24, 2))  # 1 px noise
    est = fit_translation(P, uv, np.ones(24), INTR)
    assert abs(est[2] - tz) / tz < 0.03  # the body spans ≈ 100-500 px: 1 px is < 3 % of depth


@settings(max_examples=40, deadline=None)
@given(pitch=st.floats(-60, 60), roll=st.floats(-30, 30), h=st.floats(0.3, 3.0))
def test_world_frame_puts_the_floor_at_zero(pitch: float, roll: float, h: float) -> None:
    n = normal_from_angles(pitch, roll)
    assert np.allclose(angles_from_normal(n), (pitch, roll), atol=1e-6)
    T = world_from_floor(n, h)
    assert np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-9)
    assert np.isclose(np.linalg.det(T[:3, :3]), 1.0)
    # floor points (n · p = −h) land at world y = 0; the camera centre at height h
    rng = np.random.default_rng(0)
    a = np.cross(n, [1.0, 0, 0]) if abs(n[0]) < 0.9 else np.cross(n, [0, 0, 1.0])
    b = np.cross(n, a)
    pts = -h * n + rng.uniform(-3, 3, (10, 1)) * a / np.linalg.norm(a) + \
        rng.uniform(-3, 3, (10, 1)) * b / np.linalg.norm(b)
    world = pts @ T[:3, :3].T + T[:3, 3]
    assert np.allclose(world[:, 1], 0.0, atol=1e-9)
    assert np.isclose(T[1, 3], h)


def _walker(pitch: float, height: float, frames: int = 150, stand: bool = False
            ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A stick 'body' seen by a camera pitched by ``pitch`` at ``height``, walking 3 m on a curve
    in 20-frame steps: each foot stands still on the floor between its steps (the other lifted)."""
    n = normal_from_angles(pitch)
    R_cw = world_from_floor(n, height)[:3, :3].T  # world axes → camera
    verts, joints = [], []

    def spot(step: int) -> np.ndarray:
        s = 0 if stand else step
        return np.array([-1.5 + 0.2 * s, 0.0, 4.0 + np.sin(0.2 * s)])

    for k in range(frames):
        left, right = spot((k + 10) // 20 * 2), spot(k // 20 * 2 + 1)
        lifted = np.array([0.0, 0.12, 0.0])
        left, right = (left + lifted, right) if (k // 10) % 2 else (left, right + lifted)
        hip = (left + right) / 2 + np.array([0.0, 0.95, 0.0])
        head = hip + np.array([0.0, 0.7, 0.0])
        w = np.stack([left, right, head, hip])
        c = (w - [0, height, 0]) @ R_cw.T
        verts.append(c)
        j = np.zeros((24, 3))
        j[0], j[12] = c[3], c[2]
        joints.append(j)
    return verts, joints


def test_floor_is_recovered_from_a_walker_and_is_stable() -> None:
    verts, joints = _walker(pitch=12.0, height=1.6)
    est = FloorEstimator()
    frames = [est.update(v, j, k / 30.0) for k, (v, j) in enumerate(zip(verts, joints, strict=True))]
    last = frames[-1]
    assert abs(last.pitch - 12.0) < 0.5 and abs(last.roll) < 0.5 and abs(last.height - 1.6) < 0.02
    assert last.stable and not frames[5].stable


def test_a_person_standing_in_one_spot_is_not_a_stable_floor() -> None:
    verts, joints = _walker(pitch=12.0, height=1.6, stand=True)
    est = FloorEstimator()
    assert not any(est.update(v, j, k / 30.0).stable
                   for k, (v, j) in enumerate(zip(verts, joints, strict=True)))


def test_given_height_and_pitch_are_used_as_they_are() -> None:
    verts, joints = _walker(pitch=12.0, height=1.6, frames=3)
    w = FloorEstimator(height=1.2, pitch=5.0).update(verts[0], joints[0], 0.0)
    assert w.stable and w.height == 1.2 and abs(w.pitch - 5.0) < 1e-9


def test_world_metrics_ignore_a_rigid_motion_and_see_a_drift() -> None:
    rng = np.random.default_rng(1)
    gt = np.cumsum(rng.normal(0, 0.02, (250, 24, 3)), 0) + rng.normal(0, 0.3, (1, 24, 3))
    c, s = np.cos(0.7), np.sin(0.7)
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    moved = gt @ R.T + [3.0, 0.0, -1.0]
    assert w_mpjpe(moved, gt) < 1e-6 and w_mpjpe(moved, gt, whole=True) < 1e-6
    assert rte(moved[:, 0], gt[:, 0]) < 1e-6
    drift = moved + np.linspace(0, 0.5, 250)[:, None, None] * [1.0, 0, 0]
    assert w_mpjpe(drift, gt) > 50 and rte(drift[:, 0], gt[:, 0]) > 0.5
