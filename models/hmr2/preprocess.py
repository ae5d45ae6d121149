"""Person crops exactly as 4D-Humans' demo cuts them (``ViTDetDataset``), for HMR2.0.

Per box ``(x1, y1, x2, y2)`` in pixels of an ``(H, W, 3)`` RGB image:

1. centre ``c = ((x1 + x2) / 2, (y1 + y2) / 2)``; size ``(w, h)`` goes through upstream's
   200-pixel scale unit (``(w, h) / 200 · 200``, in float32 like upstream, so rounding agrees);
2. the box grows to the 192:256 (width:height) aspect, and the crop is the square of side
   ``size = max(w', h')`` centred at ``c``;
3. when ``size / 256 / 2 > 1.1`` the image is Gaussian-blurred first (sigma
   ``(size / 512 − 1) / 2``, scipy's ``gaussian_filter``, nearest-edge, truncate 4: what
   skimage's ``gaussian`` runs), in float64, so the warp then runs on float64 too; unblurred crops
   are warped as uint8 and so rounded to integers, as upstream;
4. ``cv2.warpAffine`` (bilinear, zero border) maps the square onto ``crop_size × crop_size``
   (256×256) pixels; the matrix comes from ``cv2.getAffineTransform`` on the same float32 points;
5. ImageNet mean/std normalisation (of 0–255 values) in float64, stored as float32;
6. the middle ``image_width`` (192) columns are kept, i.e. ``[:, :, 32:-32]``. Upstream cuts them in
   ``HMR2.forward_step`` from the batch of square crops; the normalisation is per pixel, so cutting
   here instead gives the same tensor and keeps the exported network's input exactly what the
   backbone sees.

Crop geometry for placing the result in the image: the network's weak-perspective camera
``[s, tx, ty]`` belongs to the whole *square* crop of side ``sizes[i]`` pixels centred at
``centers[i]`` (not to the 192-column strip), i.e. pass ``centers`` and ``sizes`` as ``box_center``
and ``box_size`` to :func:`stmocap.models.camera.crop.crop_cam_to_translation`. A crop pixel
``(u, v)`` of the square (0..crop_size) is image pixel ``centers + (u − crop_size/2, v −
crop_size/2) · sizes / crop_size``; a column ``u`` of the network input is square column
``u + crop_margin``.
"""

from __future__ import annotations

import numpy as np
from stmocap.models.hmr2.config import FULL, HMR2Config

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SCALE_UNIT = 200.0  # upstream stores box sizes in units of 200 px
BLUR_TRUNCATE = 4.0


def box_geometry(boxes: np.ndarray, cfg: HMR2Config = FULL) -> tuple[np.ndarray, np.ndarray]:
    """``boxes (T, 4)`` xyxy px → ``centers (T, 2)`` px and square crop sides ``sizes (T,)`` px
    (float32, computed in float32 as upstream)."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    wh = ((b[:, 2:4] - b[:, 0:2]) / np.float32(SCALE_UNIT)) * np.float32(SCALE_UNIT)
    if (wh <= 0).any():
        raise ValueError(f"boxes must have x2 > x1 and y2 > y1, got {b[(wh <= 0).any(1)].tolist()}")
    centers = (b[:, 2:4] + b[:, 0:2]) / np.float32(2.0)
    aw, ah = cfg.image_width, cfg.crop_size  # target aspect width:height (192:256)
    sizes = np.empty(len(b), np.float32)
    for i, (w, h) in enumerate(wh):
        if h / w < ah / aw:  # too wide: grow the height
            w2, h2 = w, max(w * ah / aw, h)
        else:  # too tall: grow the width
            w2, h2 = max(h * aw / ah, w), h
        sizes[i] = max(w2, h2)
    return centers, sizes


def blur_sigma(size: float, cfg: HMR2Config = FULL) -> float | None:
    """Gaussian sigma applied before cropping a square of ``size`` px (``None``: no blur)."""
    factor = np.float32(size) * np.float32(1.0) / cfg.crop_size / 2.0
    return float((factor - 1) / 2) if factor > 1.1 else None


def crop_matrix(center: np.ndarray, size: float, cfg: HMR2Config = FULL) -> np.ndarray:
    """2×3 affine matrix (image px → square crop px) of the crop centred at ``center``."""
    import cv2

    cx, cy = np.float32(center[0]), np.float32(center[1])
    half = np.float32(size) * np.float32(0.5)
    d = np.float32(cfg.crop_size * 0.5)
    src = np.array([[cx, cy], [cx, cy + half], [cx + half, cy]], np.float32)
    dst = np.array([[d, d], [d, d + d], [d + d, d]], np.float32)
    return cv2.getAffineTransform(src, dst)


def _blurred_window(image: np.ndarray, M: np.ndarray, sigma: float, side: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Blur only the part of ``image`` the crop reads (plus the kernel radius) as float64.

    Returns the window and the matrix shifted to it. The Gaussian is separable with a finite
    kernel, so inside the window (away from its cut edges by one radius) the values equal those
    of blurring the whole image; image borders keep their nearest-edge handling.
    """
    from scipy.ndimage import gaussian_filter

    H, W = image.shape[:2]
    inv = np.linalg.inv(np.vstack([M, [0.0, 0.0, 1.0]]))[:2]
    corners = inv @ np.array([[0, side, 0, side], [0, 0, side, side], [1, 1, 1, 1]], np.float64)
    radius = int(BLUR_TRUNCATE * sigma + 0.5)
    pad = radius + 2
    x0 = max(int(np.floor(corners[0].min())) - pad, 0)
    y0 = max(int(np.floor(corners[1].min())) - pad, 0)
    x1 = min(int(np.ceil(corners[0].max())) + pad + 1, W)
    y1 = min(int(np.ceil(corners[1].max())) + pad + 1, H)
    if x0 >= x1 or y0 >= y1:  # the crop lies outside the image: all border
        return np.zeros((1, 1, image.shape[2]), np.float64), M
    # Blur from a slightly larger window so the cut edges are one radius away from what is read.
    bx0, by0 = max(x0 - radius, 0), max(y0 - radius, 0)
    bx1, by1 = min(x1 + radius, W), min(y1 + radius, H)
    window = gaussian_filter(image[by0:by1, bx0:bx1].astype(np.float64), (sigma, sigma, 0),
                             mode="nearest", truncate=BLUR_TRUNCATE)
    shifted = M.copy()
    shifted[:, 2] += M[:, :2] @ np.array([bx0, by0], np.float64)
    return window, shifted


def crop_square(image_rgb: np.ndarray, center: np.ndarray, size: float, cfg: HMR2Config = FULL
                ) -> np.ndarray:
    """One ``(crop_size, crop_size, 3)`` crop (uint8 when unblurred, float64 when blurred), RGB."""
    import cv2

    M = crop_matrix(center, size, cfg)
    sigma = blur_sigma(size, cfg)
    src = image_rgb
    if sigma is not None:
        src, M = _blurred_window(image_rgb, M, sigma, cfg.crop_size)
    return cv2.warpAffine(src, M, (cfg.crop_size, cfg.crop_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def normalise(crop: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` RGB 0–255 → ``(3, h, w)`` float32, ImageNet-normalised (in float64)."""
    x = np.ascontiguousarray(crop.transpose(2, 0, 1)).astype(np.float32).astype(np.float64)
    mean = 255.0 * np.array(IMAGENET_MEAN)[:, None, None]
    std = 255.0 * np.array(IMAGENET_STD)[:, None, None]
    return ((x - mean) / std).astype(np.float32)


def crop_people_square(image_rgb: np.ndarray, boxes: np.ndarray, cfg: HMR2Config = FULL
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`crop_people` but the whole square crops ``(T, 3, crop_size, crop_size)``
    (upstream ``ViTDetDataset``'s ``img``)."""
    image_rgb = np.asarray(image_rgb)
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image_rgb.shape} {image_rgb.dtype}")
    centers, sizes = box_geometry(boxes, cfg)
    crops = np.empty((len(sizes), 3, cfg.crop_size, cfg.crop_size), np.float32)
    for i in range(len(sizes)):
        crops[i] = normalise(crop_square(image_rgb, centers[i], float(sizes[i]), cfg))
    return crops, centers, sizes


def crop_people(image_rgb: np.ndarray, boxes: np.ndarray, cfg: HMR2Config = FULL
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``image_rgb (H, W, 3)`` uint8 RGB, ``boxes (T, 4)`` xyxy px → network input.

    Returns ``crops (T, 3, image_height, image_width)`` float32 (ImageNet-normalised RGB, the
    middle columns of the square crops), ``centers (T, 2)`` px and ``sizes (T,)`` px: the centre
    and side of each *square* crop in the image (the frame of the predicted ``cam``).
    """
    square, centers, sizes = crop_people_square(image_rgb, boxes, cfg)
    m = cfg.crop_margin
    return np.ascontiguousarray(square[:, :, :, m:cfg.crop_size - m]), centers, sizes
