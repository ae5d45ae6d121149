"""Read camera intrinsics from files: OpenCV calibration output, a small JSON, a rendered clip's truth.

* OpenCV ``cv2.FileStorage`` YAML or XML (what ``calibrate_camera`` samples and most tools write):
  ``camera_matrix`` (3×3), ``distortion_coefficients`` (optional), and the image size as
  ``image_width``/``image_height`` or ``image_size`` ``[W, H]``.
* JSON: ``{"fx", "fy", "cx", "cy", "dist": [...], "width", "height"}`` (or ``"size": [W, H]``).
* ``.npz`` ground truth of a rendered clip (:mod:`stmocap.groundtruth.scene`): ``focal`` and
  ``image_size`` (centred principal point, no distortion).

Every failure is an :class:`IntrinsicsError` whose message is one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from stmocap.models.camera.pinhole import Intrinsics


class IntrinsicsError(ValueError):
    """An intrinsics file is missing, unreadable or inconsistent (one-line message)."""


def _fail(path: Path, why: str) -> IntrinsicsError:
    return IntrinsicsError(f"cannot read intrinsics from {path}: {why}")


def _from_opencv(path: Path) -> Intrinsics:
    import cv2

    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
        raise _fail(path, f"not an OpenCV FileStorage file ({msg})") from exc
    try:
        if not fs.isOpened():
            raise _fail(path, "not an OpenCV FileStorage file")
        K = fs.getNode("camera_matrix").mat()
        if K is None or K.shape != (3, 3):
            raise _fail(path, "no 3x3 camera_matrix")
        d = fs.getNode("distortion_coefficients").mat()
        dist = () if d is None else tuple(float(c) for c in np.asarray(d).ravel())
        w, h = fs.getNode("image_width"), fs.getNode("image_height")
        node = fs.getNode("image_size")
        if not w.empty() and not h.empty():
            size = (int(w.real()), int(h.real()))
        elif node.isSeq() and node.size() == 2:
            size = (int(node.at(0).real()), int(node.at(1).real()))
        elif not node.empty() and node.mat() is not None and node.mat().size == 2:
            size = tuple(int(v) for v in node.mat().ravel())  # type: ignore[assignment]
        else:
            raise _fail(path, "no image size (image_width/image_height or image_size)")
    finally:
        fs.release()
    return _build(path, float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), size, dist)


def _from_json(path: Path) -> Intrinsics:
    try:
        data: Any = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, f"invalid JSON ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise _fail(path, "expected a JSON object with fx, fy, cx, cy, width, height")
    missing = [k for k in ("fx", "fy", "cx", "cy") if k not in data]
    if missing:
        raise _fail(path, f"missing {', '.join(missing)}")
    if "size" in data:
        size = data["size"]
    elif "width" in data and "height" in data:
        size = (data["width"], data["height"])
    else:
        raise _fail(path, "missing the image size (width and height, or size [W, H])")
    try:
        return _build(path, float(data["fx"]), float(data["fy"]), float(data["cx"]),
                      float(data["cy"]), (int(size[0]), int(size[1])),
                      tuple(float(c) for c in data.get("dist", ())))
    except (TypeError, IndexError) as exc:
        raise _fail(path, f"values must be numbers ({exc})") from exc


def _from_truth(path: Path) -> Intrinsics:
    try:
        with np.load(path) as gt:
            focal = float(gt["focal"])
            W, H = (int(v) for v in gt["image_size"])
    except (KeyError, ValueError, OSError) as exc:
        raise _fail(path, "not a rendered clip's ground truth (needs focal, image_size)") from exc
    return _build(path, focal, focal, W / 2.0, H / 2.0, (W, H), ())


def _build(path: Path, fx: float, fy: float, cx: float, cy: float, size: tuple[int, int],
           dist: tuple[float, ...]) -> Intrinsics:
    try:
        return Intrinsics(fx, fy, cx, cy, size, dist)
    except ValueError as exc:
        raise _fail(path, str(exc)) from exc


def load_intrinsics(path: Path | str) -> Intrinsics:
    """Intrinsics from ``path`` by suffix: ``.json``, ``.npz`` (rendered truth), else OpenCV
    FileStorage (``.yaml``, ``.yml``, ``.xml``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise _fail(path, "no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _from_json(path)
    if suffix == ".npz":
        return _from_truth(path)
    if suffix in (".yaml", ".yml", ".xml"):
        return _from_opencv(path)
    raise _fail(path, f"unknown format {suffix or '(no suffix)'} (use .yaml/.yml/.xml from OpenCV, "
                      ".json, or a rendered clip's .npz)")


def save_intrinsics_json(intr: Intrinsics, path: Path | str) -> Path:
    """Write ``intr`` in the JSON form :func:`load_intrinsics` reads."""
    path = Path(path)
    path.write_text(json.dumps({"fx": intr.fx, "fy": intr.fy, "cx": intr.cx, "cy": intr.cy,
                                "dist": list(intr.dist), "width": intr.size[0],
                                "height": intr.size[1]}, indent=1))
    return path
