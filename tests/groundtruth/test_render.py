"""The headless renderer: projection, back-face culling, near-over-far, shading."""

from __future__ import annotations

import numpy as np
import pytest
from stmocap.groundtruth.render import Light, PinholeCamera, render_mesh

CAM = PinholeCamera.centred(100.0, 64, 48)


def _quad(z: float, half: float) -> tuple[np.ndarray, np.ndarray]:
    """A square facing the camera (counter-clockwise seen from the camera) at depth z."""
    v = np.array([[-half, -half, z], [-half, half, z], [half, half, z], [half, -half, z]])
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_projection_matches_pinhole() -> None:
    p = CAM.project(np.array([[0.1, -0.2, 2.0]]))
    np.testing.assert_allclose(p, [[32 + 5.0, 24 - 10.0]])


def test_near_surface_hides_far_and_back_faces_are_culled() -> None:
    far_v, far_f = _quad(2.0, 0.4)
    near_v, near_f = _quad(1.0, 0.05)
    verts = np.concatenate([near_v, far_v])
    faces = np.concatenate([near_f, far_f + 4])
    colors = np.array([[0, 0, 1.0]] * 2 + [[0, 1.0, 0]] * 2)  # near red, far green (BGR)
    flat = Light(ambient=1.0, diffuse=0.0)
    img = render_mesh(np.zeros((48, 64, 3), np.uint8), verts, faces, colors, CAM, flat)
    assert tuple(img[24, 32]) == (0, 0, 255)  # centre: the near red square
    assert tuple(img[24, 32 + 12]) == (0, 255, 0)  # beside it: the far green one
    assert tuple(img[2, 2]) == (0, 0, 0)  # outside both: background kept
    flipped = render_mesh(np.zeros((48, 64, 3), np.uint8), verts, faces[:, ::-1], colors, CAM, flat)
    assert not flipped.any()  # all faces turned away: nothing drawn


def test_lambert_shading_and_size_check() -> None:
    v, f = _quad(1.0, 0.3)
    white = np.ones((2, 3))
    lit = render_mesh(np.zeros((48, 64, 3), np.uint8), v, f, white, CAM,
                      Light(direction=(0, 0, 1), ambient=0.2, diffuse=0.8))
    grazing = render_mesh(np.zeros((48, 64, 3), np.uint8), v, f, white, CAM,
                          Light(direction=(1, 0, 0), ambient=0.2, diffuse=0.8))
    assert lit[24, 32, 0] == 255 and grazing[24, 32, 0] == 51
    with pytest.raises(ValueError, match="camera 64x48"):
        render_mesh(np.zeros((10, 10, 3), np.uint8), v, f, white, CAM)
