"""Intrinsics: field of view, rescaling, calibration files (OpenCV's own FileStorage, JSON), errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.models.camera import (
    DEFAULT_WEBCAM_DIAGONAL_FOV,
    Intrinsics,
    IntrinsicsError,
    load_intrinsics,
    project_points,
    save_intrinsics_json,
    undistort_pixels,
)
from stmocap.realtime.camera import CameraConfig, IntrinsicsResolver, check_camera

DIST = (-0.21, 0.07, 0.001, -0.0008, -0.01)


def _write_opencv(path: Path, K: np.ndarray, dist: np.ndarray, size: tuple[int, int]) -> Path:
    """What OpenCV's calibration sample writes, written by cv2.FileStorage itself."""
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", size[0])
    fs.write("image_height", size[1])
    fs.write("camera_matrix", K)
    fs.write("distortion_coefficients", dist)
    fs.release()
    return path


@pytest.mark.parametrize("suffix", [".yaml", ".xml"])
def test_opencv_calibration_file_loads_and_rescales(tmp_path: Path, suffix: str) -> None:
    K = np.array([[1400.0, 0, 955.0], [0, 1402.0, 541.0], [0, 0, 1]])
    path = _write_opencv(tmp_path / f"calib{suffix}", K, np.array(DIST).reshape(1, 5), (1920, 1080))
    intr = load_intrinsics(path)
    assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.size) == (1400.0, 1402.0, 955.0, 541.0,
                                                                (1920, 1080))
    assert intr.dist == pytest.approx(DIST)
    half = intr.rescaled((960, 540))
    assert (half.fx, half.fy) == (700.0, 701.0)
    assert (half.cx, half.cy) == (pytest.approx(477.25), pytest.approx(270.25))
    assert half.dist == intr.dist  # distortion acts on normalised coordinates
    # A 3D point lands on the same place of the picture at either size.
    p = np.array([[0.3, -0.2, 2.5]])
    big, small = project_points(p, intr)[0], project_points(p, half)[0]
    assert np.allclose((small + 0.5) * 2 - 0.5, big, atol=1e-6)


def test_run_rescales_the_calibration_to_the_stream(tmp_path: Path) -> None:
    K = np.array([[1000.0, 0, 640.0], [0, 1000.0, 360.0], [0, 0, 1]])
    path = _write_opencv(tmp_path / "c.yml", K, np.zeros((1, 5)), (1280, 720))
    resolve = IntrinsicsResolver(CameraConfig(intrinsics=path))
    assert resolve((640, 360)).fx == 500.0
    with pytest.raises(ValueError, match="aspect ratio"):
        resolve((640, 480))


def test_json_round_trip(tmp_path: Path) -> None:
    intr = Intrinsics(610.0, 612.0, 318.0, 243.0, (640, 480), DIST)
    assert load_intrinsics(save_intrinsics_json(intr, tmp_path / "c.json")) == intr
    (tmp_path / "b.json").write_text(json.dumps({"fx": 500, "fy": 500, "cx": 320, "cy": 240,
                                                 "size": [640, 480]}))
    assert load_intrinsics(tmp_path / "b.json").dist == ()


@pytest.mark.parametrize("name, content", [
    ("missing.yaml", None),
    ("bad.yaml", "this is: [not, opencv"),
    ("nok.yaml", "%YAML:1.0\n---\nimage_width: 640\n"),
    ("bad.json", "{fx: 1}"),
    ("part.json", '{"fx": 500, "fy": 500}'),
    ("neg.json", '{"fx": -5, "fy": 500, "cx": 1, "cy": 1, "width": 640, "height": 480}'),
    ("calib.txt", "fx 500"),
])
def test_a_wrong_or_unreadable_file_is_one_line(tmp_path: Path, name: str, content: str | None) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(IntrinsicsError) as info:
        check_camera(CameraConfig(intrinsics=path))
    text = str(info.value)
    assert "\n" not in text and str(path) in text and text.startswith("cannot read intrinsics")


@pytest.mark.parametrize("cfg, match", [(CameraConfig(fov=200), "--fov"),
                                        (CameraConfig(camera_height=-1), "--camera-height"),
                                        (CameraConfig(camera_pitch=95), "--camera-pitch")])
def test_camera_options_are_range_checked(cfg: CameraConfig, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_camera(cfg)


def test_default_is_a_typical_webcam_not_the_crop_focal() -> None:
    intr = IntrinsicsResolver(CameraConfig())((640, 480))
    diag = math.degrees(2 * math.atan(math.hypot(640, 480) / 2 / intr.fx))
    assert diag == pytest.approx(DEFAULT_WEBCAM_DIAGONAL_FOV)
    assert 60 < intr.horizontal_fov() < 70  # vs 2.9° of HMR2.0's 5000/256 · max(W, H)
    assert IntrinsicsResolver(CameraConfig(fov=60))((640, 480)).horizontal_fov() == pytest.approx(60)


@settings(max_examples=40, deadline=None)
@given(x=st.floats(-0.6, 0.6), y=st.floats(-0.45, 0.45), z=st.floats(1.0, 8.0))
def test_undistort_inverts_the_distortion(x: float, y: float, z: float) -> None:
    intr = Intrinsics(600.0, 600.0, 320.0, 240.0, (640, 480), DIST)
    p = np.array([[x * z, y * z, z]])
    raw = project_points(p, intr)  # distorted pixels of the raw image
    ideal = project_points(p, intr, distort=False)
    assert np.allclose(undistort_pixels(raw, intr), ideal, atol=1e-3)
