"""BlazePose's full pipeline around the two networks: detection, ROI, crop, landmarks, tracking.

Coordinates: ``landmarks`` are normalised to the image (x right, y down, in [0, 1] inside it), z in
the same scale as x (relative to the hips), as mediapipe reports them; ``world`` landmarks are in
metres, hip-centred, in the camera's orientation (x right, y down, z away). Landmark order is
BlazePose's 33 body points (``LANDMARK_NAMES``).

The steps follow mediapipe's pose graphs: letterboxed 224×224 detector input in [-1, 1]; 2,254 SSD
anchors; decoded boxes and 4 keypoints; weighted non-maximum suppression; a rotated ROI from the
hip centre and the body-size keypoint (target angle 90°, scaled by 1.25, square); a 256×256
perspective crop in [0, 1] (edge pixels replicated outside the frame); landmarks refined on the
64×64 heatmap; projection back to the image.
With tracking, the next frame's ROI comes from the previous landmarks (auxiliary points 33 and 34)
while the pose flag stays above 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from stmocap.models.blazepose.graph import LANDMARK_OUTPUTS, load_graph
from stmocap.models.blazepose.smoothing import PoseSmoother, aux_scale

LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
DET_SIZE = 224
LM_SIZE = 256
HEATMAP_KERNEL = 9  # see refine_from_heatmap


@dataclass(frozen=True)
class Roi:
    """A rotated square region: centre and size in pixels, rotation in radians (clockwise on screen)."""

    cx: float
    cy: float
    size: float
    rotation: float


@dataclass(frozen=True)
class Detection:
    """One detector output. Keypoint 0 is the hip centre, keypoint 1 a point on the circle around
    the whole body (its radius sets the landmark ROI); ``box`` is the face box the detector was
    trained on."""

    score: float
    box: np.ndarray  # (4,) xmin, ymin, xmax, ymax normalised to the image
    keypoints: np.ndarray  # (4, 2) normalised to the image

    def roi(self, width: int, height: int) -> Roi:
        """The landmark model's region for this person (mediapipe's detection → ROI step)."""
        return roi_from_points(self.keypoints[0], self.keypoints[1], width, height)

    def person_box(self, width: int, height: int) -> np.ndarray:
        """``(4,)`` pixels ``x0, y0, x1, y1``: the square around the body circle (centre keypoint
        0, radius to keypoint 1)."""
        c = self.keypoints[0] * [width, height]
        r = float(np.hypot(*((self.keypoints[1] - self.keypoints[0]) * [width, height])))
        return np.array([c[0] - r, c[1] - r, c[0] + r, c[1] + r], np.float32)


@dataclass(frozen=True)
class PoseResult:
    """One person: ``landmarks (33, 5)`` = x, y, z (normalised), visibility, presence;
    ``world (33, 3)`` metres; the ROI used; the pose flag (probability a person is in the ROI);
    with a landmarker that returns it, ``embedding (1152,)``: the landmark network's last shared
    feature map (2×2×288, NHWC order) on this crop, and ``embedding_mirrored (1152,)`` the same on
    the crop flipped left–right (training data only, for mirrored copies)."""

    landmarks: np.ndarray
    world: np.ndarray
    roi: Roi
    flag: float
    aux: np.ndarray  # (6, 3) auxiliary landmarks 33-38 (normalised), used for tracking
    embedding: np.ndarray | None = None
    embedding_mirrored: np.ndarray | None = None


def ssd_anchors() -> np.ndarray:
    """Anchor centres ``(2254, 2)`` of the pose detector (fixed size 1, strides 8/16/32/32/32)."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        fm = math.ceil(DET_SIZE / stride)
        for y in range(fm):
            for x in range(fm):
                centres += [((x + 0.5) / fm, (y + 0.5) / fm)] * per_cell
    return np.asarray(centres, np.float32)


def body_box(landmarks: np.ndarray, width: int, height: int, margin: float = 1.2) -> np.ndarray:
    """``(4,)`` pixels: the square around the visible landmarks (all of them when fewer than 4 are
    visible), enlarged by ``margin``. ``landmarks (33, ≥4)``: normalised x, y, z, visibility."""
    vis = landmarks[:, 3]
    px = landmarks[:, :2] * [width, height]
    seen = px[vis > 0.5] if (vis > 0.5).sum() >= 4 else px
    lo, hi = seen.min(0), seen.max(0)
    centre, side = (lo + hi) / 2, float((hi - lo).max() * margin)
    return np.array([*(centre - side / 2), *(centre + side / 2)], np.float32)


def box_roi(box: np.ndarray, rotation: float = 0.0, scale: float = 1.25) -> Roi:
    """A square ROI around a pixel ``box (4,)`` (its centre, ``scale`` × its longer side): the
    landmark region of a person found by a box detector, or of a track between detections."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return Roi(float(cx), float(cy), float(max(box[2] - box[0], box[3] - box[1]) * scale), rotation)


def _warp(image: np.ndarray, roi: Roi, out: int, replicate: bool) -> np.ndarray:
    """Perspective crop of the rotated square ``roi`` to ``out × out``, uint8 RGB.

    Outside the image: black for the detector (letterbox), the nearest edge pixel for the
    landmark model (its ROI often extends past the frame when the hips are out of view).
    """
    pts = cv2.boxPoints(((roi.cx, roi.cy), (roi.size, roi.size), math.degrees(roi.rotation)))
    dst = np.array([[0, out], [0, 0], [out, 0], [out, out]], np.float32)
    M = cv2.getPerspectiveTransform(pts.astype(np.float32), dst)
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    return cv2.warpPerspective(image, M, (out, out), flags=cv2.INTER_LINEAR, borderMode=border,
                               borderValue=0)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[2], b[:, 2])
    y1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 threshold: float = 0.3) -> list[Detection]:
    """Mediapipe's WEIGHTED non-maximum suppression: each kept detection averages the boxes and
    keypoints of every candidate overlapping it by IoU > ``threshold``, weighted by score."""
    order = np.argsort(-scores)
    remaining = list(order)
    out = []
    while remaining:
        top = remaining[0]
        ious = _iou(boxes[top], boxes[remaining])
        group = [remaining[i] for i in np.nonzero(ious > threshold)[0]]
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kps = (keypoints[group] * w[:, :, None]).sum(0) / w.sum()
        out.append(Detection(float(scores[top]), box, kps))
        remaining = [r for r in remaining if r not in group]
    return out


def _normalize_radians(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def roi_from_points(start: np.ndarray, end: np.ndarray, width: int, height: int,
                    scale: float = 1.25) -> Roi:
    """Rotated square ROI from two normalised points: centre ``start``, size 2·|end − start| in
    pixels, rotated so the body axis points up (target angle 90°), enlarged by ``scale``."""
    x0, y0 = start[0] * width, start[1] * height
    x1, y1 = end[0] * width, end[1] * height
    size = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
    rotation = _normalize_radians(math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0))
    return Roi(x0, y0, size, rotation)


class BlazePose:
    """Single-person BlazePose: ``__call__(rgb_uint8) -> PoseResult | None`` (``None``: nobody).
    Several people: :class:`stmocap.realtime.stages.lite.PeopleFollower` uses its two passes.

    Args:
        min_detection: detector score threshold (mediapipe's default 0.5).
        detector, landmarker: the two networks as callables on NHWC float tensors returning their
            outputs in TFLite order (default: the PyTorch port; engines fit via
            :func:`engine_network`).
        min_tracking: pose-flag threshold to keep tracking from the previous landmarks.
        track: reuse the previous frame's landmarks for the ROI (video); False runs the detector
            on every frame (mediapipe's static image mode).
        smooth: with ``track``, smooth the landmarks over time as mediapipe's video mode does
            (``smooth_landmarks``, :mod:`stmocap.models.blazepose.smoothing`). With ``track`` the
            points that place the next ROI are smoothed either way, as in mediapipe. Both need
            timestamps (``__call__(t=…)``, default: frames 1/30 s apart).
        mirrored_embedding: with a landmarker that returns the embedding (a fifth output), also
            run it on the crop flipped left–right (one more landmark pass per person and frame).
    """

    def __init__(self, min_detection: float = 0.5, min_tracking: float = 0.5, track: bool = True,
                 detector: Callable[[torch.Tensor], tuple[torch.Tensor, ...]] | None = None,
                 landmarker: Callable[[torch.Tensor], tuple[torch.Tensor, ...]] | None = None,
                 smooth: bool = True, mirrored_embedding: bool = False) -> None:
        self.detector = detector or load_graph("pose_detection")
        self.landmarker = landmarker or load_graph("pose_landmark_full", outputs=LANDMARK_OUTPUTS)
        self.mirrored_embedding = mirrored_embedding
        self.anchors = ssd_anchors()
        self.min_detection = min_detection
        self.min_tracking = min_tracking
        self.track = track
        self.smoother = PoseSmoother(landmarks=smooth)  # used only with ``track``
        self._roi: Roi | None = None
        self._frames = 0
        self.seen: int | None = None  # people the detector found in the last call (None: not run)

    def reset(self) -> None:
        self._roi = None
        self.smoother.reset()

    # -- detection -------------------------------------------------------------------------
    def detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        side = max(w, h)
        crop = _warp(image, Roi(w / 2, h / 2, side, 0.0), DET_SIZE, replicate=False)
        x = torch.from_numpy(crop.astype(np.float32) / 127.5 - 1.0)[None]
        with torch.no_grad():
            raw_boxes, raw_scores = (t[0].numpy() for t in self.detector(x))
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores[:, 0].astype(np.float64), -100, 100)))
        keep = scores >= self.min_detection
        if not keep.any():
            return []
        raw, a = raw_boxes[keep] / DET_SIZE, self.anchors[keep]
        cx, cy = raw[:, 0] + a[:, 0], raw[:, 1] + a[:, 1]
        bw, bh = raw[:, 2], raw[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        kps = raw[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
        # Undo the letterbox: square crop of side max(w, h) centred on the image.
        pad = np.array([(1 - w / side) / 2, (1 - h / side) / 2])
        span = np.array([w / side, h / side])
        boxes = (boxes.reshape(-1, 2, 2) - pad) / span
        kps = (kps - pad) / span
        return weighted_nms(scores[keep], boxes.reshape(-1, 4), kps)

    # -- landmarks -------------------------------------------------------------------------
    def landmarks(self, image: np.ndarray, roi: Roi) -> PoseResult:
        h, w = image.shape[:2]
        crop = _warp(image, roi, LM_SIZE, replicate=True)
        x = torch.from_numpy(crop.astype(np.float32) / 255.0)[None]
        with torch.no_grad():
            lm, flag, heatmap, world, *tap = (t[0].numpy() for t in self.landmarker(x))
            embedding = mirrored = None
            if tap:
                embedding = tap[0].reshape(-1).astype(np.float32)
                if self.mirrored_embedding:
                    mirrored = self.landmarker(x.flip(2))[4][0].numpy().reshape(-1).astype(np.float32)
        lm = lm.reshape(39, 5).astype(np.float64)
        xyz = lm[:, :3] / LM_SIZE
        xyz[:, :2] = refine_from_heatmap(xyz[:, :2], heatmap)
        vis = 1 / (1 + np.exp(-lm[:, 3]))
        pres = 1 / (1 + np.exp(-lm[:, 4]))
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        rx, ry = xyz[:, 0] - 0.5, xyz[:, 1] - 0.5
        px = (c * rx - s * ry) * roi.size + roi.cx
        py = (s * rx + c * ry) * roi.size + roi.cy
        z = xyz[:, 2] * roi.size / w
        norm = np.stack([px / w, py / h, z], 1)
        wl = world.reshape(39, 3).astype(np.float64)
        world_rot = np.stack([c * wl[:, 0] - s * wl[:, 1], s * wl[:, 0] + c * wl[:, 1], wl[:, 2]], 1)
        landmarks = np.concatenate([norm[:33], vis[:33, None], pres[:33, None]], 1)
        return PoseResult(landmarks, world_rot[:33], roi, float(flag.reshape(-1)[0]), norm[33:],
                          embedding, mirrored)

    def __call__(self, image: np.ndarray, t: float | None = None) -> PoseResult | None:
        """The person in ``image`` (RGB uint8) or ``None``; ``t``: capture time in seconds (for
        smoothing; default: this call's index / 30)."""
        h, w = image.shape[:2]
        t = self._frames / 30.0 if t is None else t
        self._frames += 1
        roi = self._roi if self.track else None
        self.seen = None
        if roi is None:
            dets = self.detect(image)
            self.seen = len(dets)  # the highest-scoring one is followed
            if not dets:
                return None
            roi = dets[0].roi(w, h)
        result = self.landmarks(image, roi)
        if not self.track:
            return result
        if result.flag < self.min_tracking:
            self.reset()  # lost: detect again next frame, filters restart
            return None
        result, self._roi = follow(result, self.smoother, (w, h), t)
        return result


def follow(result: PoseResult, smoother: PoseSmoother, size: tuple[int, int], t: float
           ) -> tuple[PoseResult, Roi]:
    """Video mode after a landmark pass: smooth ``result`` with ``smoother`` (its landmarks only
    where it smooths them, its auxiliary landmarks always) and return it with the next frame's ROI
    (from auxiliary landmarks 33 and 34)."""
    w, h = size
    scale = aux_scale(result.aux, size)
    if smoother.smooths_landmarks:
        landmarks, world = smoother.smooth_landmarks(result.landmarks, result.world, size, t,
                                                     scale)
        result = replace(result, landmarks=landmarks, world=world)
    result = replace(result, aux=smoother.smooth_aux(result.aux, size, t, scale))
    return result, roi_from_points(result.aux[0], result.aux[1], w, h)


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray, min_conf: float = 0.5) -> np.ndarray:
    """Mediapipe's heatmap refinement: confidence-weighted mean position in a 9×9 window around
    the cell the point falls in, where the window's largest confidence is ≥ ``min_conf``.

    ``xy (39, 2)`` normalised to the crop; ``heatmap (64, 64, 39)`` logits.

    The window is 9×9 although the graph's option reads ``kernel_size: 7``: mediapipe 0.10.21's
    own streams (``raw_landmarks`` before and ``all_landmarks`` after this step, asked of its
    ``PoseLandmarkCpu`` graph on a video frame) agree with a 9×9 window to 0.001 heatmap cells on
    all 39 points, and differ from a 7×7 one by up to 0.3 cells (≈ 2 pixels in the image).

    Points off the heatmap keep their regressed position.
    """
    hh, hw, n = heatmap.shape
    off = (HEATMAP_KERNEL - 1) // 2
    out = xy.copy()
    for i in range(min(n, len(xy))):
        col, row = int(xy[i, 0] * hw), int(xy[i, 1] * hh)
        if col < 0 or col >= hw or row < 0 or row >= hh:
            continue
        r0, r1 = max(0, row - off), min(hh, row + off + 1)
        c0, c1 = max(0, col - off), min(hw, col + off + 1)
        conf = 1 / (1 + np.exp(-heatmap[r0:r1, c0:c1, i].astype(np.float64)))
        if conf.max() < min_conf:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        total = conf.sum()
        out[i, 0] = (cols * conf).sum() / total / hw
        out[i, 1] = (rows * conf).sum() / total / hh
    return out


def engine_network(engine) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:  # type: ignore[no-untyped-def]
    """Adapt an :class:`~stmocap.engines.base.Engine` of a BlazePose network to :class:`BlazePose`."""
    name = engine.inputs[0].name

    def run(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(v.cpu() for v in engine({name: x.contiguous()}).values())

    return run
