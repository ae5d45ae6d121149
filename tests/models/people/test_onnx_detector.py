"""A real ONNX detector (a tiny conv net exported by torch.onnx) run through ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.people.base import PersonDetector, iou_matrix, nms
from stmocap.models.people.onnx_detector import OnnxPersonDetector, letterbox
from torch import nn

pytest.importorskip("onnxruntime")
# The test exports with the TorchScript exporter (small, no onnxscript needed); its notices are noise.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")


class RedBlobs(nn.Module):
    """Boxes of the red pixels in the left and right halves of its input ``(1, 3, H, W)`` in
    [0, 1]: a fixed 1×1 convolution scores redness (R − (G + B)/2 − 0.25), the box is the span of
    the pixels scoring above 0; score 0.9 where there is one, 0 otherwise. Labels: left half 0
    (person), right half ``right_label``."""

    def __init__(self, right_label: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, -0.5, -0.5]).view(1, 3, 1, 1))
            self.conv.bias.fill_(-0.25)
        self.right_label = right_label

    def _box(self, mask: torch.Tensor, x_offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        big = 1e4
        cols = mask.amax(dim=0)
        rows = mask.amax(dim=1)
        xs = torch.arange(mask.shape[1], dtype=torch.float32) + x_offset
        ys = torch.arange(mask.shape[0], dtype=torch.float32)
        x0 = (xs + (1 - cols) * big).amin()
        x1 = (xs - (1 - cols) * big).amax() + 1
        y0 = (ys + (1 - rows) * big).amin()
        y1 = (ys - (1 - rows) * big).amax() + 1
        return torch.stack([x0, y0, x1, y1]), cols.amax() * 0.9

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mask = (self.conv(images)[0, 0] > 0).float()
        half = mask.shape[1] // 2
        left, s0 = self._box(mask[:, :half], 0)
        right, s1 = self._box(mask[:, half:], half)
        labels = torch.tensor([0, self.right_label], dtype=torch.int64)
        return torch.stack([left, right]), torch.stack([s0, s1]), labels


def _export(path: Path, size: tuple[int, int] = (96, 128), right_label: int = 0,
            names: tuple[str, ...] = ("boxes", "scores", "labels")) -> Path:
    h, w = size
    torch.onnx.export(RedBlobs(right_label), (torch.zeros(1, 3, h, w),), str(path),
                      input_names=["images"], output_names=list(names), dynamo=False)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("det") / "red.onnx")


def _scene(w: int = 300, h: int = 160) -> tuple[np.ndarray, np.ndarray]:
    img = np.full((h, w, 3), 40, np.uint8)
    truth = np.array([[30, 20, 90, 140], [180, 50, 260, 120]], np.float32)
    for x0, y0, x1, y1 in truth.astype(int):
        img[y0:y1, x0:x1] = (230, 30, 30)
    return img, truth


def test_boxes_come_back_in_image_pixels_through_the_letterbox(model: Path) -> None:
    det = OnnxPersonDetector(model)
    assert isinstance(det, PersonDetector) and (det.width, det.height) == (128, 96)
    img, truth = _scene()  # 300×160 into 128×96: scaled by 0.427, padded 13 px top and bottom
    boxes, scores = det(img)
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    assert boxes.shape == (2, 4) and np.allclose(scores, 0.9)
    order = np.argsort(boxes[:, 0])
    assert np.abs(boxes[order] - truth).max() < 4.0  # ≈ 1.7 px per input pixel


def test_labels_scores_and_an_empty_image(tmp_path: Path) -> None:
    det = OnnxPersonDetector(_export(tmp_path / "l.onnx", right_label=3))
    img, truth = _scene()
    boxes, _ = det(img)
    assert len(boxes) == 1 and np.abs(boxes[0] - truth[0]).max() < 4.0  # the right blob is class 3
    empty_boxes, empty_scores = det(np.full((160, 300, 3), 40, np.uint8))
    assert empty_boxes.shape == (0, 4) and empty_scores.shape == (0,)
    assert len(OnnxPersonDetector(tmp_path / "l.onnx", min_score=0.95)(img)[0]) == 0


def test_outputs_without_the_names_are_taken_in_order(tmp_path: Path) -> None:
    det = OnnxPersonDetector(_export(tmp_path / "o.onnx", names=("b", "s", "c")))
    assert len(det(_scene()[0])[0]) == 2


def test_bad_models_are_refused_with_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "two.onnx"
    torch.onnx.export(nn.Conv2d(1, 1, 1), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False)
    with pytest.raises(ValueError, match="channels"):
        OnnxPersonDetector(path)
    with pytest.raises(FileNotFoundError):
        OnnxPersonDetector(tmp_path / "missing.onnx")


def test_letterbox_and_nms() -> None:
    canvas, scale, pad = letterbox(np.full((50, 100, 3), 255, np.uint8), 64, 64, 0.0)
    assert scale == 0.64 and pad == (0.0, 16.0)
    assert canvas[16:48].min() == 1.0 and canvas[:16].max() == 0.0
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.7]), 0.5).tolist() == [1, 2]
    assert iou_matrix(boxes, boxes).shape == (3, 3)


def test_the_tracked_detector_stage_gives_each_blob_an_id(model: Path) -> None:
    """``TrackedPersonDetector``: the ONNX detector's boxes, tracked across frames as blobs move."""
    from stmocap.realtime.messages import Message
    from stmocap.realtime.stages.detect import TrackedPersonDetector

    stage = TrackedPersonDetector(OnnxPersonDetector(model), max_people=2)
    seen = []
    for f in range(6):
        img = np.full((160, 300, 3), 40, np.uint8)
        img[20:140, 30 + 4 * f:90 + 4 * f] = (230, 30, 30)
        img[50:120, 180 + 3 * f:260 + 3 * f] = (230, 30, 30)
        out = stage.process(Message(kind="frame", seq=f, arrays={"image": img}))[0]
        a = out.arrays
        assert a["image"] is img and a["boxes"].shape == (len(a["track_ids"]), 4)
        seen.append(dict(zip(a["track_ids"].tolist(), (a["boxes"][:, 0] > 150).tolist(), strict=True)))
    assert seen[0] == {} and all(s == seen[1] for s in seen[1:]) and sorted(seen[1]) == [0, 1]
    assert out.meta["more_people"] == 0
