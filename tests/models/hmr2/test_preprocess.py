"""HMR2.0 crops: box geometry, the affine crop, the blur, normalisation, the column slice."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from stmocap.models.hmr2.config import FULL, TINY
from stmocap.models.hmr2.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    blur_sigma,
    box_geometry,
    crop_people,
    crop_people_square,
    crop_square,
    normalise,
)


def _pattern(h: int = 300, w: int = 400) -> np.ndarray:
    """A non-periodic colour pattern: every pixel differs from its neighbours."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 7 + y * 3) % 256, (x * x + y) % 251, (x * y // 5) % 241], -1).astype(np.uint8)


def test_box_geometry_widens_to_192_by_256() -> None:
    centers, sizes = box_geometry(np.array([[100, 50, 200, 250],    # tall: width grows to 150
                                            [0, 0, 300, 100],       # wide: height grows to 400
                                            [10, 10, 202, 266]]))   # exactly 192:256
    np.testing.assert_array_equal(centers, [[150, 150], [150, 50], [106, 138]])
    np.testing.assert_allclose(sizes, [200, 400, 256], rtol=1e-6)
    assert centers.dtype == sizes.dtype == np.float32


def test_centred_unit_scale_crop_is_a_slice_of_the_image() -> None:
    img = _pattern()  # 300×400; a 192×256 box at the centre gives a 256-px square at scale 1
    square = crop_square(img, np.array([200.0, 150.0]), 256.0)
    np.testing.assert_array_equal(square, img[22:278, 72:328])


def test_scaled_crop_equals_warp_with_hand_matrix() -> None:
    img = _pattern()
    cx, cy, size = 180.0, 140.0, 480.0  # scale 256/480; 480/256/2 = 0.94: no blur
    assert blur_sigma(size) is None
    s = 256.0 / size
    M = np.array([[s, 0, 128 - s * cx], [0, s, 128 - s * cy]])
    want = cv2.warpAffine(img, M, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    got = crop_square(img, np.array([cx, cy]), size)
    assert got.dtype == np.uint8  # unblurred crops are warped (and rounded) as uint8, as upstream
    np.testing.assert_array_equal(got, want)
    assert (got[:, :5] == 0).all()  # the square reaches past the left edge: zero border


def test_blur_only_near_the_crop_equals_blurring_everything() -> None:
    gaussian = pytest.importorskip("skimage.filters").gaussian
    img = _pattern(500, 700)
    for center, size in (((350.0, 250.0), 900.0), ((60.0, 400.0), 1400.0)):
        sigma = blur_sigma(size)
        assert sigma is not None and sigma > 0
        blurred = gaussian(img, sigma=sigma, channel_axis=2, preserve_range=True)
        s = 256.0 / size
        M = np.array([[s, 0, 128 - s * center[0]], [0, s, 128 - s * center[1]]], np.float64)
        want = cv2.warpAffine(blurred, M, (256, 256), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        got = crop_square(img, np.array(center), size)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_normalise_is_imagenet_in_chw() -> None:
    px = np.round(255 * np.array(IMAGENET_MEAN)).astype(np.uint8)
    out = normalise(np.broadcast_to(px, (4, 5, 3)))
    assert out.shape == (3, 4, 5) and out.dtype == np.float32
    want = (px - 255 * np.array(IMAGENET_MEAN)) / (255 * np.array(IMAGENET_STD))
    np.testing.assert_allclose(out[:, 0, 0], want, rtol=1e-6)


@pytest.mark.parametrize("cfg", [FULL, TINY])
def test_crop_people_keeps_the_middle_columns(cfg) -> None:  # type: ignore[no-untyped-def]
    img = _pattern()
    boxes = np.array([[150, 40, 250, 260], [0, 0, 400, 300]], np.float32)
    crops, centers, sizes = crop_people(img, boxes, cfg)
    square, c2, s2 = crop_people_square(img, boxes, cfg)
    assert crops.shape == (2, 3, cfg.image_height, cfg.image_width) and crops.dtype == np.float32
    m = cfg.crop_margin
    np.testing.assert_array_equal(crops, square[:, :, :, m:-m])
    np.testing.assert_array_equal(centers, c2)
    np.testing.assert_array_equal(sizes, s2)


def test_no_boxes_and_bad_inputs() -> None:
    crops, centers, sizes = crop_people(_pattern(), np.zeros((0, 4)))
    assert crops.shape == (0, 3, 256, 192) and centers.shape == (0, 2) and sizes.shape == (0,)
    with pytest.raises(ValueError, match="x2 > x1"):
        crop_people(_pattern(), np.array([[10, 10, 5, 20]]))
    with pytest.raises(ValueError, match="uint8 RGB"):
        crop_people(_pattern().astype(np.float32), np.array([[0, 0, 10, 10]]))
