"""The lite profile's per-frame features H: BlazePose's landmarks as one vector per frame.

``H = [x, y, z, visibility] × 33 ‖ world × 33`` (231 values), with the image landmarks expressed
in the person crop rather than the whole image: ``x, y = (pixel − box centre) / (box side / 2)``
(the [-1, 1] units the weak-perspective camera ω and the 2D keypoints use) and ``z`` (BlazePose's
relative depth, in units of the image width) scaled the same way, so a person gives the same
features wherever they stand in the frame. ``world`` is BlazePose's metric, hip-centred 3D.

With ``--landmark-embedding`` the landmark network's last shared feature map (2×2×288 = 1,152
values, :data:`~stmocap.models.blazepose.graph.LANDMARK_EMBEDDING`) follows: ``H`` is then
``FEATURE_DIM + EMBEDDING_DIM`` = 1,383 values per frame.
"""

from __future__ import annotations

import numpy as np

LANDMARKS = 33
FEATURE_DIM = LANDMARKS * 4 + LANDMARKS * 3
EMBEDDING_DIM = 2 * 2 * 288


def blazepose_features(landmarks: np.ndarray, world: np.ndarray, box: np.ndarray,
                       image_size: tuple[int, int]) -> np.ndarray:
    """``landmarks (..., 33, ≥4)`` (x, y image-normalised, z, visibility[, presence]),
    ``world (..., 33, 3)`` metres, ``box (..., 4)`` square x0, y0, x1, y1 in pixels,
    ``image_size (w, h)`` → ``(..., 231)`` float32."""
    w, h = image_size
    box = np.asarray(box, np.float32)
    centre = (box[..., None, :2] + box[..., None, 2:]) / 2
    half = np.maximum((box[..., None, 2:3] - box[..., None, 0:1]) / 2, 1e-6)
    lm = np.asarray(landmarks, np.float32)
    xy = (lm[..., :2] * np.array([w, h], np.float32) - centre) / half
    z = lm[..., 2:3] * w / half
    image = np.concatenate([xy, z, lm[..., 3:4]], axis=-1)
    flat = image.reshape(*image.shape[:-2], LANDMARKS * 4)
    return np.concatenate([flat, np.asarray(world, np.float32).reshape(*flat.shape[:-1], -1)],
                          axis=-1).astype(np.float32)


def lite_features(landmarks: np.ndarray, world: np.ndarray, box: np.ndarray,
                  image_size: tuple[int, int], embedding: np.ndarray | None = None) -> np.ndarray:
    """:func:`blazepose_features` of ``T`` people (``landmarks (T, 33, ≥4)``, ``world (T, 33, 3)``,
    ``box (T, 4)``), then ``embedding (T, 1152)`` when given → ``(T, 231)`` or ``(T, 1383)``
    float32 (``T`` may be 0)."""
    width = FEATURE_DIM + (0 if embedding is None else EMBEDDING_DIM)
    if len(landmarks) == 0:
        return np.zeros((0, width), np.float32)
    feats = blazepose_features(landmarks[..., :4], world, box, image_size)
    if embedding is None:
        return feats
    return np.concatenate([feats, np.asarray(embedding, np.float32)], axis=-1)
