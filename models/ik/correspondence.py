"""Which BlazePose landmarks stand for which SMPL joints.

BlazePose's 33 landmarks (``models/blazepose/pipeline.LANDMARK_NAMES``) and SMPL's 24 joints
(``models/body/synthetic.SMPL_JOINT_NAMES``) share these points; SMPL joints listed with two
landmarks take their mean. Pelvis, spine, neck and collars have no landmark: inverse kinematics
places them through the skeleton (their landmark "equivalents" — the hip midpoint, the shoulder
midpoint — sit at different heights on the body than SMPL's joints).

| SMPL joint | BlazePose landmark(s) |
|---|---|
| left/right hip (1/2) | left/right hip (23/24) |
| left/right knee (4/5) | left/right knee (25/26) |
| left/right ankle (7/8) | left/right ankle (27/28) |
| left/right foot (10/11) | left/right foot index (31/32) |
| head (15) | mean of the ears (7, 8) |
| left/right shoulder (16/17) | left/right shoulder (11/12) |
| left/right elbow (18/19) | left/right elbow (13/14) |
| left/right wrist (20/21) | left/right wrist (15/16) |
| left/right hand (22/23) | mean of index and pinky (19, 17 / 20, 18) |
"""

from __future__ import annotations

import numpy as np

SMPL_FROM_LANDMARKS: dict[int, tuple[int, ...]] = {
    1: (23,), 2: (24,), 4: (25,), 5: (26,), 7: (27,), 8: (28,), 10: (31,), 11: (32,),
    15: (7, 8), 16: (11,), 17: (12,), 18: (13,), 19: (14,), 20: (15,), 21: (16,),
    22: (17, 19), 23: (18, 20),
}
TARGET_JOINTS = tuple(sorted(SMPL_FROM_LANDMARKS))


def joint_targets(landmarks: np.ndarray, visibility: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``landmarks (..., 33, D)`` (D = 3, or 2 for pixels) → SMPL joint targets ``(..., 24, D)`` and
    weights ``(..., 24)``.

    Joints without a landmark get weight 0; others the mean visibility of their landmarks (1 when
    ``visibility`` is not given).
    """
    shape = landmarks.shape[:-2]
    targets = np.zeros((*shape, 24, landmarks.shape[-1]), landmarks.dtype)
    weights = np.zeros((*shape, 24), landmarks.dtype)
    for j, idx in SMPL_FROM_LANDMARKS.items():
        targets[..., j, :] = landmarks[..., list(idx), :].mean(axis=-2)
        weights[..., j] = 1.0 if visibility is None else visibility[..., list(idx)].mean(axis=-1)
    return targets, weights


def landmarks_from_joints(joints: np.ndarray, ear_offset: np.ndarray | None = None) -> np.ndarray:
    """Synthetic landmarks ``(..., 33, 3)`` from SMPL joints ``(..., 24, 3)`` (for tests and
    evaluation): each corresponding landmark at its joint; ears split by ``ear_offset`` (..., 3)
    around the head; hand landmarks at the hand joint; unrelated landmarks at the head."""
    out = np.repeat(joints[..., 15:16, :], 33, axis=-2).copy()
    for j, idx in SMPL_FROM_LANDMARKS.items():
        for i in idx:
            out[..., i, :] = joints[..., j, :]
    if ear_offset is not None:
        out[..., 7, :] = joints[..., 15, :] + ear_offset
        out[..., 8, :] = joints[..., 15, :] - ear_offset
    return out
