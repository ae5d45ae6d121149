"""The whole BlazePose pipeline against mediapipe 0.10.21's own outputs on two real photos.

References: ``data/ref_*.json`` (from shared/fixtures/blazepose; mediapipe's legacy Pose API,
model_complexity=1, static_image_mode=True). Images: matplotlib's ``grace_hopper.jpg`` and
scikit-image's ``astronaut``, both shipped inside those packages.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import matplotlib.cbook as cbook
import numpy as np
import pytest
from stmocap.models.blazepose.pipeline import LANDMARK_NAMES, BlazePose, ssd_anchors

DATA = Path(__file__).parent / "data"


def _image(name: str) -> np.ndarray:
    if name == "grace_hopper":
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def blazepose() -> BlazePose:
    return BlazePose(track=False)


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_matches_mediapipe(blazepose: BlazePose, name: str) -> None:
    ref = json.loads((DATA / f"ref_{name}.json").read_text())
    img = _image(name)
    assert list(img.shape) == ref["shape"]
    want = np.array(ref["landmarks_xyz_vis_pres"])
    want_world = np.array(ref["world_landmarks_xyz_vis_pres"])[:, :3]
    result = blazepose(img)
    assert result is not None and result.flag > 0.5
    h, w = img.shape[:2]
    # Pixel error measured at the 256-px scale of the landmark crop.
    err = np.hypot((result.landmarks[:, 0] - want[:, 0]) * w,
                   (result.landmarks[:, 1] - want[:, 1]) * h) * 256 / result.roi.size
    visible = want[:, 3] > 0.5
    assert err[visible].max() < 1.0, dict(zip(LANDMARK_NAMES, err.round(3), strict=True))
    # Out-of-frame, low-visibility points (grace_hopper's right elbow: 1.55 px) sit where the
    # heatmap refinement is most sensitive to the last bit of input difference.
    assert err.max() < 2.0
    assert np.median(err) < 0.05
    world_err_mm = np.linalg.norm(result.world - want_world, axis=1) * 1000
    assert world_err_mm.max() < 5.0
    np.testing.assert_allclose(result.landmarks[:, 3], want[:, 3], atol=0.01)
    np.testing.assert_allclose(result.landmarks[:, 2], want[:, 2], atol=0.02 * np.abs(want[:, 2]).max())


def test_tracking_reuses_landmarks_for_the_next_roi() -> None:
    img = _image("astronaut")
    tracker = BlazePose(track=True)
    first = tracker(img)
    second = tracker(img)  # ROI now from the first frame's auxiliary landmarks, no detector
    assert first is not None and second is not None
    assert second.roi != first.roi
    h, w = img.shape[:2]
    moved = np.hypot((second.landmarks[:11, 0] - first.landmarks[:11, 0]) * w,
                     (second.landmarks[:11, 1] - first.landmarks[:11, 1]) * h)
    # Same image, ROI from other points: the face stays within 3 % of the image width (10.8 px here).
    assert moved.max() < 0.03 * w


def test_nobody_gives_none(blazepose: BlazePose) -> None:
    assert blazepose(np.full((240, 320, 3), 30, np.uint8)) is None
    assert blazepose.detect(np.zeros((100, 100, 3), np.uint8)) == []


def test_anchor_layout() -> None:
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    assert a.min() > 0 and a.max() < 1
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])


def test_video_smoothing_steadies_a_still_person() -> None:
    """Same photo 12 times (a still person): mediapipe-style smoothing cuts the frame-to-frame
    movement of the landmarks and of the 3D world points. (The ROI's points are smoothed in both
    runs, as in mediapipe. mediapipe 0.10.21 itself on this sequence, frames 2-11: 4.58 → 2.79
    pixels and 11.2 → 7.4 mm per frame; this port: 4.57 → 2.68 and 11.7 → 7.6.)"""
    img = _image("astronaut")
    h, w = img.shape[:2]

    def jitter(smooth: bool) -> tuple[float, float]:
        tracker = BlazePose(track=True, smooth=smooth)
        results = [tracker(img, t=k / 30) for k in range(12)]
        lm = np.stack([r.landmarks[:, :2] * [w, h] for r in results[2:]])
        world = np.stack([r.world for r in results[2:]])
        return (float(np.linalg.norm(np.diff(lm, axis=0), axis=-1).mean()),
                float(np.linalg.norm(np.diff(world, axis=0), axis=-1).mean()))

    raw, smoothed = jitter(False), jitter(True)
    assert smoothed[0] < 0.7 * raw[0] and smoothed[1] < 0.75 * raw[1], (raw, smoothed)


def test_the_mirrored_embedding_is_the_mirrored_frames() -> None:
    """``mirrored_embedding``: the embedding of the crop flipped left–right is the one BlazePose
    computes on the flipped photo at the mirrored region, what a mirrored training copy needs;
    the landmarks are the same as without the tap."""
    from stmocap.models.blazepose.graph import LANDMARK_EMBEDDING, LANDMARK_OUTPUTS, load_graph
    from stmocap.models.blazepose.pipeline import Roi

    tapped = load_graph("pose_landmark_full", outputs=LANDMARK_OUTPUTS, taps=(LANDMARK_EMBEDDING,))
    pose = BlazePose(track=False, landmarker=tapped, mirrored_embedding=True)
    img = _image("astronaut")
    w = img.shape[1]
    result = pose(img)
    assert result is not None and result.embedding is not None
    assert result.embedding.shape == result.embedding_mirrored.shape == (1152,)
    plain = BlazePose(track=False)(img)
    np.testing.assert_allclose(result.landmarks, plain.landmarks, atol=1e-6)
    assert plain.embedding is None
    roi = result.roi
    # The crop flipped is exactly the flipped photo's crop at the mirrored region one crop pixel
    # along its x axis (the crop maps pixel corners, 0..256, not centres).
    step, turn = roi.size / 256, -roi.rotation
    mirrored_roi = Roi(w - 1 - roi.cx + step * math.cos(turn), roi.cy + step * math.sin(turn),
                       roi.size, turn)
    flipped = pose.landmarks(np.ascontiguousarray(img[:, ::-1]), mirrored_roi)
    a, b = result.embedding_mirrored, flipped.embedding
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < 1e-3
    # and it is not the unflipped one (the person is not left–right symmetric)
    assert np.linalg.norm(result.embedding - b) / np.linalg.norm(b) > 0.1
