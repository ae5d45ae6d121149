"""The paper profile's per-frame stage: HMR2.0 (initial pose, shape, camera) and DensePose-CSE
(the body-aware features H) for every tracked person.

One DensePose-CSE backbone forward per frame serves both the person detector (the checkpoint's own
Faster R-CNN stage) and the embedding head, so detection runs here rather than in the detect stage
(which, for this profile, only forwards the image). The tracker gives each person a stable id.

Per track ``T`` the ``estimates`` carry: ``track_ids (T,)``, ``boxes (T, 4)`` (x0, y0, x1, y1
pixels), ``pose_6d (T, 24, 6)`` and ``betas (T, 10)`` from HMR2.0 (rotations in the camera frame:
x right, y down, z forward), ``cam (T, 3)`` HMR2.0's weak-perspective crop camera ``[s, tx, ty]``,
``transl (T, 3)`` SMPL's translation in metres fitted by perspective under the run's intrinsics
(:func:`stmocap.models.camera.crop_placement.place_crop_body`; warm-started per track) and
``feats (T, 16, 112, 112)`` the CSE embeddings of each box, the paper's H. ``meta["intrinsics"]``
names the intrinsics; ``meta["random_weights"]`` is true when the models are untrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stmocap.models.body.lbs import forward_kinematics
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.camera.crop_placement import place_crop_body
from stmocap.models.ik.solver import Skeleton
from stmocap.realtime.camera import CameraConfig, IntrinsicsResolver
from stmocap.realtime.messages import Message
from stmocap.realtime.stages.base import Stage
from stmocap.realtime.stages.perframe import IMAGE_DETECTIONS

if TYPE_CHECKING:
    from stmocap.realtime.pipeline import PerFrameConfig

COLD_FIT_STEPS = 10
WARM_FIT_STEPS = 3


@dataclass
class PaperModels:
    """The per-frame networks of the paper profile, on their device.

    ``hmr2``: :class:`stmocap.models.hmr2.model.HMR2` and its config; ``detector``:
    :class:`stmocap.models.detectron.detector.PersonDetector` (the DensePose-CSE checkpoint's
    ResNet-FPN and Faster R-CNN stage); ``cse_head``: :class:`stmocap.models.densepose.model.
    DensePoseHead` (decoder, head, CSE predictor) on the same FPN features. ``detect``: whether the
    detector finds the people (else the incoming boxes are used: ``--person-detector full-frame``).
    """

    hmr2: Any
    hmr2_config: Any
    detector: Any
    cse_head: Any
    detect: bool
    device: torch.device
    random_weights: bool
    # A user's detector (``--detector FILE.onnx``: :class:`stmocap.models.people.OnnxPersonDetector`)
    # used instead of the checkpoint's own Faster R-CNN stage.
    people: Any | None = None


class PaperPerFrame(Stage):
    """Detect (optional), track, then HMR2.0 + DensePose-CSE per person; see the module docstring."""

    name = "perframe"
    consumes = ("detections",)
    produces = ("estimates",)
    inputs = IMAGE_DETECTIONS

    def __init__(self, models: PaperModels, body: BodyModelData, camera: CameraConfig | None = None,
                 source: str = "", tracker: Any | None = None) -> None:
        self.models = models
        self.skeleton = Skeleton(body)
        self.intrinsics = IntrinsicsResolver(camera or CameraConfig(), source)
        self.tracker = tracker
        self.previous_transl: dict[int, np.ndarray] = {}
        c = models.cse_head.cfg
        self.feature_shape = (c.embed_size, c.heatmap_size, c.heatmap_size)

    def _people(self, msg: Message, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any, Any]:
        """Track ids ``(T,)``, boxes ``(T, 4)`` in frame pixels, the FPN features and the
        detector's preprocessing of this frame (one backbone forward either way)."""
        m = self.models
        if not m.detect:
            fpn, pre = m.detector.features(image)
            return msg.arrays["track_ids"], msg.arrays["boxes"], fpn, pre
        if m.people is not None:
            fpn, pre = m.detector.features(image)
            boxes, scores = m.people(image)
        else:
            d = m.detector.detect(image)
            boxes, scores, fpn, pre = d.boxes, d.scores, d.features, d.pre
        if self.tracker is None:
            return np.arange(min(len(boxes), 1), dtype=np.int64), boxes[:1], fpn, pre
        frame = self.tracker.update(boxes, scores)
        return frame.ids.astype(np.int64), frame.boxes.astype(np.float32), fpn, pre

    def _joints(self, rotmats: torch.Tensor, betas: torch.Tensor) -> np.ndarray:
        """Posed joints ``(T, 24, 3)`` in the body model's output frame (no translation)."""
        rest = self.skeleton.joints(betas)
        posed, _ = forward_kinematics(rotmats, rest, self.skeleton.parents)
        return posed.numpy()

    def _estimate(self, image: np.ndarray, boxes: np.ndarray, fpn: Any, pre: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """HMR2.0 on the crops, CSE on the boxes: rotmats ``(T, 24, 3, 3)``, betas ``(T, 10)``, cam
        ``(T, 3)``, crop centres ``(T, 2)`` and sides ``(T,)``, embeddings ``(T, 16, 112, 112)``."""
        from stmocap.models.hmr2.preprocess import crop_people

        m = self.models
        crops, centers, sizes = crop_people(image, boxes, m.hmr2_config)
        out = m.hmr2(torch.as_tensor(crops).to(m.device))
        scale = np.array([pre.scale_x, pre.scale_y, pre.scale_x, pre.scale_y], np.float32)
        rois = torch.from_numpy(np.concatenate([np.zeros((len(boxes), 1), np.float32),
                                                boxes * scale], 1)).to(m.device)
        embedding = m.cse_head(fpn, rois)[0]
        return (out.rotmats.float().cpu(), out.betas.float().cpu(), out.cam.float().cpu().numpy(),
                np.asarray(centers), np.asarray(sizes), embedding.float().cpu().numpy())

    def process(self, msg: Message) -> list[Message]:
        from stmocap.models.rotations import matrix_to_rotation_6d

        image = msg.arrays["image"]
        h, w = image.shape[:2]
        intr = self.intrinsics((w, h))
        with torch.inference_mode():
            tids, boxes, fpn, pre = self._people(msg, image)
            boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
            if len(tids):
                rotmats, betas, cam, centers, sizes, feats = self._estimate(image, boxes, fpn, pre)
        cut = bool(msg.meta.get("cut"))  # a new shot: no warm start from the last one
        for gone in [t for t in self.previous_transl if cut or t not in set(tids.tolist())]:
            del self.previous_transl[gone]
        if not len(tids):
            arrays = {"track_ids": tids, "boxes": boxes,
                      "pose_6d": np.zeros((0, 24, 6), np.float32), "betas": np.zeros((0, 10), np.float32),
                      "cam": np.zeros((0, 3), np.float32), "transl": np.zeros((0, 3), np.float32),
                      "feats": np.zeros((0, *self.feature_shape), np.float32)}
        else:
            joints = self._joints(rotmats, betas)
            transl = []
            for i, tid in enumerate(tids.tolist()):
                prev = self.previous_transl.get(tid)
                t = place_crop_body(joints[i], cam[i], centers[i], float(sizes[i]), intr, init=prev,
                                    iterations=COLD_FIT_STEPS if prev is None else WARM_FIT_STEPS)
                self.previous_transl[tid] = t
                transl.append(t)
            arrays = {"track_ids": tids, "boxes": boxes,
                      "pose_6d": matrix_to_rotation_6d(rotmats).numpy().astype(np.float32),
                      "betas": betas.numpy().astype(np.float32), "cam": cam.astype(np.float32),
                      "transl": np.stack(transl).astype(np.float32), "feats": feats.astype(np.float32)}
        meta = {**msg.meta, "image_size": [w, h], "intrinsics": intr.to_meta(),
                "random_weights": self.models.random_weights}
        return [msg.derive("estimates", arrays, meta)]


def build_paper_models(cfg: PerFrameConfig, device: str = "cpu", precision: str = "fp32") -> PaperModels:
    """HMR2.0, the CSE detector/backbone and the CSE ROI head, from the user's checkpoints (located
    as ``stmocap models`` says) or with random weights (``--random-weights``; ``--paper-preset``)."""
    from dataclasses import replace

    from stmocap.models.checkpoints import FILES
    from stmocap.models.densepose.checkpoint import load_cse_checkpoint
    from stmocap.models.densepose.config import PRESETS as CSE_PRESETS
    from stmocap.models.densepose.model import DensePoseHead
    from stmocap.models.detectron.checkpoint import backbone_preset
    from stmocap.models.detectron.config import PRESETS as DET_PRESETS
    from stmocap.models.detectron.detector import PersonDetector
    from stmocap.models.detectron.pkl import read_pkl
    from stmocap.models.hmr2.checkpoint import load_hmr2, random_hmr2
    from stmocap.models.hmr2.config import PRESETS as HMR2_PRESETS

    dev = torch.device(device)
    detect = cfg.person_detector == "cse" or (cfg.person_detector == "auto" and not cfg.random_weights)
    if cfg.random_weights:
        tiny = cfg.paper_preset == "tiny"
        hmr2 = random_hmr2(HMR2_PRESETS["tiny" if tiny else "full"])
        det_cfg = DET_PRESETS["tiny" if tiny else "R_101_FPN"]
        if not tiny:
            det_cfg = det_cfg.with_input_size(cfg.paper_short_side)
        with torch.random.fork_rng():
            torch.manual_seed(1)
            detector = PersonDetector(det_cfg, device=dev)
            head_cfg = CSE_PRESETS["tiny" if tiny else "R_101_FPN_DL_soft_s1x"]
            head = DensePoseHead(replace(head_cfg, in_channels=det_cfg.fpn_channels)).eval()
    else:
        paths = {f.key: f.path(getattr(cfg, "hmr2" if f.key == "hmr2" else "densepose"))
                 for f in FILES if f.key in ("hmr2", "densepose-cse")}
        hmr2, _ = load_hmr2(paths["hmr2"], strict=True)
        cse = paths["densepose-cse"]
        weights = read_pkl(cse).model  # one read of the large file for both halves
        det_cfg = DET_PRESETS[backbone_preset(weights)].with_input_size(cfg.paper_short_side)
        detector = PersonDetector.from_checkpoint(cse, det_cfg, device=dev, weights=weights)
        head = load_cse_checkpoint(cse, strict=True, weights=weights).head
    hmr2 = hmr2.eval().to(dev)
    head = head.eval().to(dev)
    if precision == "fp16" and dev.type == "cuda":
        hmr2, head, detector.model = hmr2.half(), head.half(), detector.model.half()
    people = None
    if cfg.detector is not None:
        from stmocap.models.people.onnx_detector import OnnxPersonDetector

        people, detect = OnnxPersonDetector(cfg.detector), True
    return PaperModels(hmr2, hmr2.cfg, detector, head, detect, dev, cfg.random_weights, people)


def paper_tracker(max_people: int = 1) -> Any:
    """The paper profile's multi-person tracker (:class:`stmocap.realtime.tracking.Tracker`),
    following at most ``max_people`` people."""
    from stmocap.realtime.tracking import Tracker, TrackerConfig

    return Tracker(TrackerConfig(max_tracks=max_people))
