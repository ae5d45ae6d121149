"""Image → network input, as detectron2's ``DefaultPredictor`` + ``GeneralizedRCNN`` prepare it.

1. Resize so the shortest edge is ``min_size_test`` (longest ≤ ``max_size_test``), sizes rounded
   with ``int(x + 0.5)``; ``resize="pil"`` uses PIL's bilinear filter on uint8 (what detectron2
   does, bit-exact), ``resize="cv2"`` uses ``cv2.resize(INTER_LINEAR)``: about 10× faster (640×480 →
   1067×800: 1.7 vs 19 ms, docs/benchmarks.md); enlarging, it differs from PIL by ≤ 1 grey level,
   shrinking it skips PIL's antialiasing (640×480 → 480×360: mean 0.7, max 27 grey levels).
2. float32, (x − pixel_mean) / pixel_std per BGR channel, (1, 3, h, w).
3. Pad right/bottom with 0 (after normalising) to multiples of ``size_divisibility``.

Frames: the original image is (H, W); the network input is (h, w) padded to (hp, wp); a point
(x, y) in the network input is (x / scale_x, y / scale_y) in the original with
``scale_x = w / W``, ``scale_y = h / H``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from stmocap.models.detectron.config import DetectronConfig
from torch import Tensor

Resize = Literal["pil", "cv2"]


@dataclass(frozen=True)
class Preprocessed:
    """tensor (1, 3, hp, wp) float32; image_size (h, w) resized, before padding; original (H, W)."""

    tensor: Tensor
    image_size: tuple[int, int]
    original_size: tuple[int, int]

    @property
    def scale_x(self) -> float:
        return self.image_size[1] / self.original_size[1]

    @property
    def scale_y(self) -> float:
        return self.image_size[0] / self.original_size[0]


def resized_shape(height: int, width: int, short: int, max_size: int) -> tuple[int, int]:
    """(h, w) after resizing the shortest edge of (height, width) to ``short``, capped at max_size."""
    scale = short * 1.0 / min(height, width)
    if height < width:
        nh, nw = float(short), scale * width
    else:
        nh, nw = scale * height, float(short)
    if max(nh, nw) > max_size:
        s = max_size * 1.0 / max(nh, nw)
        nh, nw = nh * s, nw * s
    return int(nh + 0.5), int(nw + 0.5)


def resize_image(image: np.ndarray, size: tuple[int, int], method: Resize = "pil") -> np.ndarray:
    """(H, W, 3) uint8 → (h, w, 3) uint8 bilinear."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    if method == "pil":
        from PIL import Image

        return np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
    if method == "cv2":
        import cv2

        return cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    raise ValueError(f"resize must be 'pil' or 'cv2', got {method!r}")


def normalise_and_pad(image: np.ndarray, cfg: DetectronConfig) -> Tensor:
    """(h, w, 3) uint8 BGR → (1, 3, hp, wp) float32 normalised, zero-padded to the divisibility."""
    x = torch.from_numpy(np.ascontiguousarray(image).astype(np.float32)).permute(2, 0, 1)
    mean = torch.tensor(cfg.pixel_mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(cfg.pixel_std, dtype=torch.float32).view(3, 1, 1)
    x = (x - mean) / std
    d = cfg.size_divisibility
    h, w = x.shape[-2:]
    hp, wp = (h + d - 1) // d * d, (w + d - 1) // d * d
    out = x.new_zeros((1, 3, hp, wp))
    out[0, :, :h, :w] = x
    return out


def preprocess_bgr(image_bgr: np.ndarray, cfg: DetectronConfig, resize: Resize = "pil") -> Preprocessed:
    """(H, W, 3) uint8 BGR → :class:`Preprocessed`."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image_bgr.shape} {image_bgr.dtype}")
    H, W = image_bgr.shape[:2]
    size = resized_shape(H, W, cfg.min_size_test, cfg.max_size_test)
    tensor = normalise_and_pad(resize_image(image_bgr, size, resize), cfg)
    return Preprocessed(tensor, size, (H, W))
