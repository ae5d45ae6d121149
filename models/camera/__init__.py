"""Camera geometry: intrinsics and their files, projection, perspective fitting of the root
translation, and the floor (world frame) of a static camera.

Frames: camera coordinates are x right, y down, z forward (OpenCV), metres; image coordinates are
pixels from the top-left corner. See docs/camera.md.
"""

from __future__ import annotations

from stmocap.models.camera.calibration import IntrinsicsError, load_intrinsics, save_intrinsics_json
from stmocap.models.camera.crop import crop_cam_to_translation, crop_training_focal
from stmocap.models.camera.perspective import (
    SMPL_BONES,
    bone_length_depth,
    fit_translation,
    linear_translation,
    smpl_transl_from_landmarks,
)
from stmocap.models.camera.pinhole import (
    DEFAULT_WEBCAM_DIAGONAL_FOV,
    Intrinsics,
    focal_from_diagonal_fov,
    focal_from_fov,
    project_points,
    undistort_pixels,
)

__all__ = [
    "DEFAULT_WEBCAM_DIAGONAL_FOV",
    "SMPL_BONES",
    "Intrinsics",
    "IntrinsicsError",
    "bone_length_depth",
    "crop_cam_to_translation",
    "crop_training_focal",
    "fit_translation",
    "focal_from_diagonal_fov",
    "focal_from_fov",
    "linear_translation",
    "load_intrinsics",
    "project_points",
    "save_intrinsics_json",
    "smpl_transl_from_landmarks",
    "undistort_pixels",
]
