"""Rendering a motion into a video with ground truth; the cached demo clip."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from stmocap.groundtruth.motions import load_motions
from stmocap.groundtruth.scene import SceneConfig, render_motion, write_clip
from stmocap.models.body.model import load_body_model

SMALL = SceneConfig(width=160, height=120)


@pytest.fixture(scope="module")
def body():  # type: ignore[no-untyped-def]
    return load_body_model("free")


def _short(name: str = "walk", frames: int = 8):  # type: ignore[no-untyped-def]
    m = load_motions()[name]
    return replace(m, poses=m.poses[:frames], transl=m.transl[:frames])


def test_clip_and_truth_are_written_and_consistent(body, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    video, gt_path = write_clip(_short(), body, tmp_path / "walk.avi", replace(SMALL, occluders=1))
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    assert len(frames) == 8 and frames[0].shape == (120, 160, 3)
    gt = np.load(gt_path)
    assert gt["joints3d"].shape == (8, 24, 3) and gt["joints2d"].shape == (8, 24, 2)
    assert gt["pose"].shape == (8, 24, 3) and gt["box"].shape == (8, 4)
    # 2D joints are the 3D camera-frame joints projected with the recorded focal length.
    f, (W, H) = float(gt["focal"]), gt["image_size"]
    proj = gt["joints3d"][..., :2] / gt["joints3d"][..., 2:] * f + np.array([W / 2, H / 2])
    np.testing.assert_allclose(proj, gt["joints2d"], atol=1e-3)
    # Camera extrinsics map the world joints (body posed by the truth's pose, betas, transl) to the
    # camera-frame joints, which lie in front of the camera.
    import torch
    from stmocap.models.rotations import axis_angle_to_matrix

    with torch.no_grad():
        world = body(axis_angle_to_matrix(torch.from_numpy(gt["pose"])), torch.from_numpy(gt["betas"]),
                     torch.from_numpy(gt["transl"])).joints.numpy()
    cam = np.einsum("tij,tkj->tki", gt["cam_rot"], world) + gt["cam_t"][:, None]
    np.testing.assert_allclose(cam, gt["joints3d"], atol=2e-3)
    assert np.all(gt["joints3d"][..., 2] > 1.0)
    b = gt["box"]
    inside = (gt["joints2d"][..., 0] >= b[:, None, 0] - 1) & (gt["joints2d"][..., 0] <= b[:, None, 2] + 1)
    assert inside.all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.avi", "walk.npz"]  # no temporaries left
    # Readable like any file the user writes (the temporary names were once mkstemp's 0600).
    mask = os.umask(0o022)
    os.umask(mask)
    assert {video.stat().st_mode & 0o777, gt_path.stat().st_mode & 0o777} == {0o666 & ~mask}


def test_rendering_is_deterministic_and_seeded(body) -> None:  # type: ignore[no-untyped-def]
    motion = _short(frames=2)
    a = [img for img, _ in render_motion(motion, body, SMALL)]
    b = [img for img, _ in render_motion(motion, body, SMALL)]
    c = [img for img, _ in render_motion(motion, body, replace(SMALL, seed=1))]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_person_is_drawn_where_the_truth_says(body) -> None:  # type: ignore[no-untyped-def]
    plain = replace(SMALL, background="plain", floor=False)
    img, truth = next(render_motion(_short(frames=1), body, plain))
    bg = img[0, 0]
    x0, y0, x1, y1 = truth.box.astype(int)
    person = np.any(img != bg, axis=-1)
    assert person[y0:y1, x0:x1].mean() > 0.15 and person.sum() == person[y0:y1 + 1, x0:x1 + 1].sum()


def test_demo_clip_is_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import stmocap.groundtruth.demo as demo

    monkeypatch.setattr(demo, "DEMO_SHOTS", (("walk", 0, 20.0),))
    video, gt = demo.demo_clip(tmp_path, progress=False)
    assert video.parent == tmp_path / "demo" and np.load(gt)["joints3d"].shape[0] == 39
    stamp = video.stat().st_mtime_ns
    assert demo.demo_clip(tmp_path, progress=False)[0].stat().st_mtime_ns == stamp  # reused
