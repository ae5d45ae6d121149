"""A person detector the user brings as an ONNX file (the contract is in docs/detectors.md).

Model I/O:

- one input, float32 ``(1, 3, H, W)``: RGB in [0, 1], the image letterboxed into ``H × W``
  (resized keeping its aspect ratio, centred, the rest filled with ``pad_value``). ``H`` and ``W``
  are read from the model; where they are dynamic, ``size`` gives them;
- outputs named ``boxes`` ``(N, 4)`` or ``(1, N, 4)`` float: ``x0, y0, x1, y1`` in pixels of the
  model input; ``scores`` ``(N,)`` or ``(1, N)`` in [0, 1]; optionally ``labels`` ``(N,)`` or
  ``(1, N)`` integer class ids (only ``person_label`` is kept). Without those names the outputs are
  taken in that order.

The detector maps boxes back to the original image's pixels, drops scores under ``min_score``,
runs non-maximum suppression (whether or not the model already did) and keeps the best
``max_detections``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from stmocap.models.people.base import empty, nms

from stmocap.optional import require

OUTPUT_NAMES = ("boxes", "scores", "labels")


def letterbox(image: np.ndarray, width: int, height: int, pad_value: float
              ) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Fit ``image (h, w, 3)`` uint8 into ``(height, width, 3)`` float32 in [0, 1], centred.

    Returns ``(canvas, scale, (pad_x, pad_y))``: an original pixel ``p`` lands at
    ``p · scale + pad`` on the canvas.
    """
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    px, py = (width - nw) // 2, (height - nh) // 2
    canvas = np.full((height, width, 3), pad_value, np.float32)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[py:py + nh, px:px + nw] = cv2.resize(image, (nw, nh), interpolation=interp) / 255.0
    return canvas, scale, (float(px), float(py))


class OnnxPersonDetector:
    """:class:`~stmocap.models.people.base.PersonDetector` over an ONNX file (see the module
    docstring for the I/O it expects).

    Args:
        path: the ``.onnx`` file.
        size: ``(width, height)`` of the input where the model leaves them dynamic (default 640×640).
        min_score: detections scoring less are dropped.
        nms_iou: overlap above which the lower-scoring of two boxes is dropped.
        person_label: the class id of people when the model has a ``labels`` output.
        max_detections: keep at most this many (best first).
        pad_value: letterbox fill, in [0, 1] (114/255, the usual grey).
        providers: ONNX Runtime execution providers (default: CPU).
    """

    def __init__(self, path: str | Path, size: tuple[int, int] | None = None, min_score: float = 0.5,
                 nms_iou: float = 0.5, person_label: int = 0, max_detections: int = 20,
                 pad_value: float = 114 / 255, providers: list[str] | None = None) -> None:
        ort = require("onnxruntime", "onnx", "to run an ONNX person detector")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"person detector {path} does not exist")
        self.session = ort.InferenceSession(str(path), providers=providers or ["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ValueError(f"{path}: a person detector takes one (1, 3, H, W) input, this one takes "
                             f"{[(i.name, i.shape) for i in inputs]} (docs/detectors.md)")
        self.input_name = inputs[0].name
        _, c, h, w = inputs[0].shape
        if isinstance(c, int) and c != 3:
            raise ValueError(f"{path}: input {self.input_name} has {c} channels, not 3 (RGB)")
        dyn_w, dyn_h = size or (640, 640)
        self.width = w if isinstance(w, int) else int(dyn_w)
        self.height = h if isinstance(h, int) else int(dyn_h)
        names = [o.name for o in self.session.get_outputs()]
        if all(n in names for n in OUTPUT_NAMES[:2]):
            self.outputs = [n for n in OUTPUT_NAMES if n in names]
        elif len(names) in (2, 3):
            self.outputs = names
        else:
            raise ValueError(f"{path}: outputs {names}; a person detector gives boxes, scores "
                             "[, labels] (docs/detectors.md)")
        self.min_score, self.nms_iou = min_score, nms_iou
        self.person_label, self.max_detections = person_label, max_detections
        self.pad_value = pad_value

    def __call__(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, 3)`` uint8 RGB → ``boxes (N, 4)`` float32 xyxy pixels, ``scores (N,)``."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image_rgb.shape} {image_rgb.dtype}")
        canvas, scale, (px, py) = letterbox(image_rgb, self.width, self.height, self.pad_value)
        x = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])
        out = self.session.run(self.outputs, {self.input_name: x})
        boxes = np.asarray(out[0], np.float64).reshape(-1, 4)
        scores = np.asarray(out[1], np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(f"the detector gave {len(boxes)} boxes but {len(scores)} scores")
        keep = scores >= self.min_score
        if len(out) > 2:
            labels = np.asarray(out[2]).reshape(-1)
            keep &= labels.astype(np.int64) == self.person_label
        boxes, scores = boxes[keep], scores[keep]
        if not len(boxes):
            return empty()
        h, w = image_rgb.shape[:2]
        boxes = (boxes - [px, py, px, py]) / scale
        boxes = np.clip(boxes, 0, [w, h, w, h])
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores = boxes[valid], scores[valid]
        order = nms(boxes, scores, self.nms_iou)[: self.max_detections]
        return boxes[order].astype(np.float32), scores[order].astype(np.float32)
