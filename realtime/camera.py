"""Which camera a run sees: the ``[camera]`` options and the intrinsics they resolve to.

Priority, first that applies: ``--intrinsics FILE`` (OpenCV calibration, JSON, or a rendered
clip's ``.npz`` truth), ``--fov`` degrees, the known camera of a rendered source (``--source demo``),
else a typical webcam (:data:`stmocap.models.camera.DEFAULT_WEBCAM_DIAGONAL_FOV` across the
diagonal). The result is rescaled to each frame's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stmocap.models.camera import DEFAULT_WEBCAM_DIAGONAL_FOV, Intrinsics, load_intrinsics


@dataclass(frozen=True)
class CameraConfig:
    """The camera: intrinsics that place bodies in metres, and the floor (world frame)."""

    intrinsics: Path | None = field(default=None, metadata={
        "help": "camera calibration: OpenCV FileStorage .yaml/.xml (camera_matrix, "
                "distortion_coefficients, image_width/height) or .json (fx, fy, cx, cy, dist, "
                "width, height); rescaled to the stream's size"})
    fov: float = field(default=0.0, metadata={
        "help": "horizontal field of view in degrees (across the longer side) when there is no "
                f"--intrinsics (0: a typical webcam, {DEFAULT_WEBCAM_DIAGONAL_FOV:g}° diagonal)"})
    camera_height: float = field(default=0.0, metadata={
        "help": "camera height above the floor in metres (0: estimated from the feet)"})
    camera_pitch: float | None = field(default=None, metadata={
        "help": "camera pitch in degrees, positive looking down, roll 0 (default: estimated)"})


def check_camera(cfg: CameraConfig) -> None:
    """Range-check the options and read the intrinsics file: ``ValueError`` in one line."""
    if cfg.fov and not 1.0 <= cfg.fov <= 179.0:
        raise ValueError(f"--fov must be in 1..179 degrees (or 0 for the default), got {cfg.fov:g}")
    if cfg.camera_height < 0:
        raise ValueError(f"--camera-height must be > 0 metres (0: estimate), got {cfg.camera_height:g}")
    if cfg.camera_pitch is not None and not -90.0 < cfg.camera_pitch < 90.0:
        raise ValueError(f"--camera-pitch must be in -90..90 degrees, got {cfg.camera_pitch:g}")
    if cfg.intrinsics is not None:
        load_intrinsics(cfg.intrinsics)


def known_intrinsics(source: str) -> Intrinsics | None:
    """The true intrinsics of a rendered source (``demo``), if its ground truth is at hand."""
    if source.strip() != "demo":
        return None
    from stmocap.groundtruth.demo import demo_paths

    gt = demo_paths()[1]
    return load_intrinsics(gt) if gt.is_file() else None


def base_intrinsics(cfg: CameraConfig, source: str = "") -> Intrinsics | None:
    """The intrinsics the options name, before rescaling (``None``: by field of view per size)."""
    if cfg.intrinsics is not None:
        return load_intrinsics(cfg.intrinsics)
    if cfg.fov:
        return None
    return known_intrinsics(source)


class IntrinsicsResolver:
    """Intrinsics per image size for one run (cached; see the module docstring)."""

    def __init__(self, cfg: CameraConfig, source: str = "") -> None:
        check_camera(cfg)
        self.cfg = cfg
        self.base = base_intrinsics(cfg, source)
        self._by_size: dict[tuple[int, int], Intrinsics] = {}

    def __call__(self, size: tuple[int, int]) -> Intrinsics:
        size = (int(size[0]), int(size[1]))
        if size not in self._by_size:
            if self.base is not None:
                intr = self.base.rescaled(size)
            elif self.cfg.fov:
                intr = Intrinsics.from_fov(self.cfg.fov, size)
            else:
                intr = Intrinsics.from_diagonal_fov(DEFAULT_WEBCAM_DIAGONAL_FOV, size)
            self._by_size[size] = intr
        return self._by_size[size]
