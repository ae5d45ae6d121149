"""Crop cameras → metres: a crop model's body placed by perspective under the real intrinsics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.models.camera import Intrinsics, project_points
from stmocap.models.camera.crop import CROP_TRAINING_FOCAL, CROP_TRAINING_SIZE
from stmocap.models.camera.crop_placement import crop_projection, place_crop_body

F_CROP = CROP_TRAINING_FOCAL / CROP_TRAINING_SIZE


def _body(seed: int = 0) -> np.ndarray:
    """24 joints of a standing 1.7 m body around its pelvis, camera orientation (y down)."""
    rng = np.random.default_rng(seed)
    j = rng.uniform([-0.25, -0.7, -0.15], [0.25, 1.0, 0.15], (24, 3))
    j[0] = 0.0
    return j


def _crop_cam_of(joints: np.ndarray, transl: np.ndarray, intr: Intrinsics, side: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """What a perfect crop model would say: the weak-perspective camera of a crop of ``side``
    pixels centred on the body's projected root, fitted to the true projection (least squares)."""
    pix = project_points(joints + transl, intr, distort=False)
    center = pix[0]
    # crop coords q = (pix − c)/side ≈ (F_CROP/tz) · (X + t_xy): solve for s, tx, ty linearly.
    q = (pix - center) / side
    A = np.zeros((48, 3))
    A[:24, 0], A[:24, 1] = joints[:, 0], 1.0
    A[24:, 0], A[24:, 2] = joints[:, 1], 1.0
    k, a, b = np.linalg.lstsq(A, np.concatenate([q[:, 0], q[:, 1]]), rcond=None)[0]
    s = 2.0 * k  # k = F_CROP / tz and tz = 2 F_CROP / s
    return np.array([s, a / k, b / k]), center


@settings(max_examples=40, deadline=None)
@given(st.floats(2.0, 8.0), st.floats(-0.8, 0.8), st.floats(-0.5, 0.5), st.floats(300, 500))
def test_a_perfect_crop_camera_places_the_body_where_it_is(depth: float, x: float, y: float,
                                                           side: float) -> None:
    intr = Intrinsics.from_fov(60.0, (640, 480))
    joints = _body()
    truth = np.array([x * depth / 2, y * depth / 2, depth])
    cam, center = _crop_cam_of(joints, truth, intr, side)
    t = place_crop_body(joints, cam, center, side, intr)
    # The crop camera is weak-perspective: the fit inherits only its small depth-spread error.
    assert abs(t[2] - depth) / depth < 0.03
    assert np.linalg.norm(t[:2] - truth[:2]) < 0.03 * depth
    # The fitted body's root lands where the crop camera shows it.
    shown = project_points((joints + t)[:1], intr, distort=False)[0]
    assert np.linalg.norm(shown - crop_projection(joints[:1], cam, center, side)[0]) < 0.01 * side


def test_the_crop_focal_does_not_place_the_body() -> None:
    """The old bug: tz = 2·f_crop/s with the crop-training focal puts a 3.5 m body tens of metres
    away; the fit under the real camera does not depend on that focal's scale."""
    intr = Intrinsics.from_fov(60.0, (640, 480))
    joints = _body(1)
    truth = np.array([0.1, 0.2, 3.5])
    cam, center = _crop_cam_of(joints, truth, intr, 360.0)
    naive_tz = 2 * 5000.0 / (360.0 * cam[0])  # HMR2.0 demo focal for a 360 px crop
    assert naive_tz > 20
    assert place_crop_body(joints, cam, center, 360.0, intr)[2] == pytest.approx(3.5, rel=0.03)


def test_warm_start_reaches_the_same_answer() -> None:
    intr = Intrinsics.from_fov(70.0, (1280, 720))
    joints = _body(2)
    cam, center = _crop_cam_of(joints, np.array([-0.4, 0.1, 5.0]), intr, 300.0)
    cold = place_crop_body(joints, cam, center, 300.0, intr)
    start = cold + np.array([0.05, -0.05, 0.3])
    warm = place_crop_body(joints, cam, center, 300.0, intr, init=start, iterations=20)
    assert np.allclose(cold, warm, atol=1e-3)
