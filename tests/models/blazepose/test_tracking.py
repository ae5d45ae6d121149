"""Video mode against mediapipe 0.10.21's own graph, frame by frame: the landmark pass on
mediapipe's ROI, then smoothing and the next frame's ROI (``follow``), with ``smooth_landmarks``
on and off.

Reference: ``data/tracking_reference.npz``, written by ``scripts/mediapipe_tracking_reference.py``
in mediapipe's own environment (it says how). The clip is scikit-image's astronaut (a PNG, so
decoded to the same pixels everywhere), decimated by slicing and pasted at integer offsets on a
black canvas: bit-exact frames without any interpolation. Each frame is cropped with the ROI
mediapipe used for it, because free-running tracking amplifies float noise on this clip (the legs
are out of view): each step is compared, not where the chaos has taken both after 36 frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stmocap.models.blazepose.pipeline import BlazePose, Roi, follow
from stmocap.models.blazepose.smoothing import PoseSmoother

DATA = Path(__file__).parent / "data"
H, W = 480, 640


def _clip(offsets: np.ndarray) -> list[np.ndarray]:
    from skimage import data

    small = data.astronaut()[::2, ::2]
    h, w = small.shape[:2]
    frames = []
    for x, y in offsets:
        canvas = np.zeros((H, W, 3), np.uint8)
        canvas[y:y + h, x:x + w] = small
        frames.append(canvas)
    return frames


def _rect(roi: Roi) -> np.ndarray:
    """mediapipe's NormalizedRect fields of a square pixel ROI."""
    return np.array([roi.cx / W, roi.cy / H, roi.size / W, roi.size / H, roi.rotation])


@pytest.fixture(scope="module")
def pose() -> BlazePose:
    return BlazePose()


@pytest.mark.parametrize("smooth", [True, False], ids=["smooth_landmarks", "raw_landmarks"])
def test_each_tracking_step_matches_mediapipe(pose: BlazePose, smooth: bool) -> None:
    ref = np.load(DATA / "tracking_reference.npz")
    key = "smooth" if smooth else "raw"
    frames = _clip(ref["offsets"])
    assert np.isfinite(ref[f"{key}_world"]).all()
    # The auxiliary points are smoothed with smooth_landmarks off too, as in mediapipe.
    smoother = PoseSmoother(landmarks=smooth)
    world_mm, image_px, centre_px, size_px, turn = [], [], [], [], []
    for k, frame in enumerate(frames):
        x, y, w, _, rot = ref[f"{key}_rect"][k]
        result = pose.landmarks(frame, Roi(x * W, y * H, w * W, rot))
        result, nxt = follow(result, smoother, (W, H), k / 30)
        world_mm.append(np.abs(result.world - ref[f"{key}_world"][k]).max() * 1000)
        image_px.append(np.abs((result.landmarks[:, :2] - ref[f"{key}_landmarks"][k, :, :2])
                               * [W, H]).max())
        d = _rect(nxt) - ref[f"{key}_next_rect"][k]
        centre_px.append(np.abs(d[:2] * [W, H]).max())
        size_px.append(abs(d[2]) * W)
        turn.append(abs(d[4]))
    assert max(world_mm) < 3.0, world_mm
    assert max(image_px) < 1.0, image_px
    assert max(centre_px) < 0.2 and max(size_px) < 0.2, (centre_px, size_px)
    assert max(turn) < 1e-3, turn
