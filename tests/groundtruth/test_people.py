"""Several people in one rendered scene: placement stays exact SMPL, per-person truth, occlusion."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from stmocap.groundtruth.motions import load_motions
from stmocap.groundtruth.scene import Placement, SceneConfig, place_motion, write_people_clip
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import axis_angle_to_matrix


@pytest.fixture(scope="module")
def body():  # type: ignore[no-untyped-def]
    return load_body_model("free")


def _rest_pelvis(body, betas: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return body(torch.eye(3).repeat(1, 24, 1, 1), torch.from_numpy(betas[None]).float(),
                    torch.zeros(1, 3)).joints[0, 0].double().numpy()


def _joints(body, m) -> np.ndarray:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return body(axis_angle_to_matrix(torch.from_numpy(m.poses)).float(),
                    torch.from_numpy(np.tile(m.betas, (m.num_frames, 1))).float(),
                    torch.from_numpy(m.transl).float()).joints.double().numpy()


def _short(name: str, frames: int):  # type: ignore[no-untyped-def]
    m = load_motions()[name]
    return replace(m, poses=m.poses[:frames], transl=m.transl[:frames])


def test_placement_is_a_rigid_motion_of_the_body_and_exact_smpl(body) -> None:  # type: ignore[no-untyped-def]
    m = _short("walk", 10)
    placed = place_motion(m, Placement(heading=90.0, x=1.5, z=-2.0), _rest_pelvis(body, m.betas))
    before, after = _joints(body, m), _joints(body, placed)
    np.testing.assert_allclose(after[0, 0, [0, 2]], [1.5, -2.0], atol=1e-4)  # first pelvis moved there
    a = np.radians(90.0)
    Ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    c = np.array([before[0, 0, 0], 0.0, before[0, 0, 2]])
    want = (before - c) @ Ry.T + [1.5, 0.0, -2.0]
    np.testing.assert_allclose(after, want, atol=1e-4)  # SMPL(pose', β, transl') is the turned body
    # The clip walked along +z; turned by 90° it walks along +x.
    step = after[-1, 0] - after[0, 0]
    assert step[0] > 0.2 and abs(step[2]) < 0.05


def test_two_people_clip_has_truth_per_person_and_occlusion(body, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A far person and a near one in front of it: per-person boxes, joints and visibility."""
    m = _short("walk", 3)
    rest = _rest_pelvis(body, m.betas)
    far = place_motion(m, Placement(heading=0.0, x=0.0, z=-1.5), rest)
    near = place_motion(m, Placement(heading=0.0, x=0.15, z=0.5), rest)
    side = place_motion(m, Placement(heading=0.0, x=3.0, z=0.5), rest)
    cfg = SceneConfig(width=160, height=120, azimuth=0.0, distance=4.0, follow=0, seed=1)
    video, gt_path = write_people_clip([far, near, side], body, tmp_path / "p.avi", cfg)
    cap = cv2.VideoCapture(str(video))
    assert cap.read()[0] and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    gt = np.load(gt_path)
    assert gt["joints3d"].shape == (3, 3, 24, 3) and gt["box"].shape == (3, 3, 4)
    assert gt["visible"].shape == (3, 3) and list(gt["names"]) == ["walk"] * 3
    f, (W, H) = float(gt["focal"]), gt["image_size"]
    j = gt["joints3d"]
    np.testing.assert_allclose(j[..., :2] / j[..., 2:] * f + [W / 2, H / 2], gt["joints2d"], atol=1e-3)
    assert np.all(j[:, 0, :, 2] > j[:, 1, :, 2])  # person 0 is behind person 1
    assert np.all(gt["visible"][:, 0] < 0.6) and np.all(gt["visible"][:, 1] > 0.9)  # hidden by it
    assert np.all(gt["visible"][:, 2] < 0.5)  # 3 m to the side: partly out of the frame
    # Each person's truth reposes to its own camera-frame joints.
    for k, mk in enumerate([far, near, side]):
        cam = np.einsum("tij,tkj->tki", gt["cam_rot"][:, k], _joints(body, mk)) + gt["cam_t"][:, k, None]
        np.testing.assert_allclose(cam, j[:, k], atol=2e-3)
    with pytest.raises(ValueError, match="same number of frames"):
        write_people_clip([far, _short("walk", 2)], body, tmp_path / "bad.avi", cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.avi", "p.npz"]
