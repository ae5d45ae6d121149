"""Tests for evaluation/shared_joints.py: known answers (no mediapipe needed)."""

from __future__ import annotations

import numpy as np
import pytest
from stmocap.evaluation import shared_joints as S


def _pose(n: int = 3, seed: int = 0) -> np.ndarray:
    """A plausible-ish standing pose (12 shared joints, metres, camera frame) plus noise."""
    base = np.array([[0.18, -0.45, 0], [-0.18, -0.45, 0], [0.25, -0.18, 0], [-0.25, -0.18, 0],
                     [0.28, 0.08, 0], [-0.28, 0.08, 0], [0.09, 0.0, 0], [-0.09, 0.0, 0],
                     [0.1, 0.42, 0], [-0.1, 0.42, 0], [0.1, 0.82, 0], [-0.1, 0.82, 0]])
    base[:, 2] = 3.0
    rng = np.random.default_rng(seed)
    return base + rng.normal(0, 0.02, (n, 12, 3))


def test_tables_line_up() -> None:
    assert len(S.SMPL_SHARED) == len(S.BLAZEPOSE_SHARED) == len(S.SHARED_NAMES) == 12
    assert [S.SHARED_NAMES[i] for i in S.SHARED_HIPS] == ["l_hip", "r_hip"]
    assert len(S.LIMBS) == 8


def test_identical_pose_scores_zero() -> None:
    gt = _pose()
    s = S.score_shared(gt.copy(), gt)
    assert s["frames"] == 3
    assert s["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert s["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert s["limb_deg"] == pytest.approx(0.0, abs=1e-5)
    assert s["hip_width_ratio"] == pytest.approx(1.0)


def test_translation_is_removed_by_hip_centring() -> None:
    gt = _pose()
    s = S.score_shared(gt + np.array([0.5, -0.2, 1.0]), gt)
    assert s["mpjpe"] == pytest.approx(0.0, abs=1e-9)


def test_one_limb_rotated_gives_known_angle() -> None:
    gt = _pose(n=1)
    pred = gt.copy()
    # Rotate the left shin (knee 8 → ankle 10) by 40° about the knee, on an axis across the shin.
    knee = pred[0, 8]
    shin = pred[0, 10] - knee
    k = np.cross(shin, [0.0, 0.0, 1.0])
    k /= np.linalg.norm(k)
    a = np.radians(40.0)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + np.sin(a) * cross + (1 - np.cos(a)) * cross @ cross  # Rodrigues
    pred[0, 10] = knee + rot @ (pred[0, 10] - knee)
    per_frame = S.limb_direction_error(S.hip_centred(pred), S.hip_centred(gt))
    assert per_frame[0] == pytest.approx(40.0 / 8)  # one limb of 8 off by 40°
    s = S.score_shared(pred, gt)
    moved = np.linalg.norm(pred[0, 10] - gt[0, 10])
    assert s["mpjpe"] == pytest.approx(1000 * moved / 12)  # only the ankle moved (hips unchanged)


def test_invalid_and_missing_frames_are_skipped() -> None:
    gt = _pose(n=4)
    pred = gt.copy()
    pred[1] = np.nan
    pred[2] += 1.0  # far off, but masked out below
    s = S.score_shared(pred, gt, valid=np.array([True, True, False, True]))
    assert s["frames"] == 2
    assert s["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert S.score_shared(np.full_like(gt, np.nan), gt)["frames"] == 0


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        S.score_shared(np.zeros((2, 11, 3)), np.zeros((2, 11, 3)))
