"""Resize convention, normalisation and padding of the network input."""

from __future__ import annotations

import numpy as np
import pytest
from stmocap.models.detectron.config import R_50_FPN, TINY
from stmocap.models.detectron.preprocess import preprocess_bgr, resize_image, resized_shape


@pytest.mark.parametrize(("hw", "want"), [
    ((480, 640), (800, 1067)),     # 640·800/480 = 1066.67 → 1067
    ((640, 480), (1067, 800)),
    ((512, 512), (800, 800)),
    ((400, 1200), (444, 1333)),    # capped by the longest side: 800/400·1200 = 2400 > 1333
    ((1080, 1920), (750, 1333)),   # 1333/1920·1080 = 749.8 → 750
])
def test_resized_shape(hw: tuple[int, int], want: tuple[int, int]) -> None:
    assert resized_shape(*hw, 800, 1333) == want


def test_normalise_and_pad() -> None:
    img = np.zeros((100, 150, 3), np.uint8)
    img[..., 0] = 200  # B
    pre = preprocess_bgr(img, R_50_FPN.with_input_size(100, 1000))
    assert pre.image_size == (100, 150) and pre.tensor.shape == (1, 3, 128, 160)
    t = pre.tensor[0]
    np.testing.assert_allclose(t[:, 50, 50].numpy(), [200 - 103.53, -116.28, -123.675], rtol=1e-6)
    assert float(t[:, 100:].abs().max()) == 0.0 and float(t[:, :, 150:].abs().max()) == 0.0
    assert pre.scale_x == pre.scale_y == 1.0


def test_pil_and_cv2_resizes_are_close_when_enlarging() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    a = resize_image(img, (96, 128), "pil").astype(int)
    b = resize_image(img, (96, 128), "cv2").astype(int)
    assert a.shape == b.shape == (96, 128, 3)
    assert np.abs(a - b).mean() < 2.0
    with pytest.raises(ValueError, match="resize must be"):
        resize_image(img, (10, 10), "nearest")  # type: ignore[arg-type]


def test_scale_maps_to_original() -> None:
    pre = preprocess_bgr(np.zeros((48, 64, 3), np.uint8), TINY)
    assert pre.image_size == (128, 171)
    assert pre.scale_x == pytest.approx(171 / 64) and pre.scale_y == pytest.approx(128 / 48)
