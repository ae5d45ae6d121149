"""The lite profile's two first stages: BlazePose (detect/track) and inverse kinematics (per-frame).

By default one person (track 0) per frame, tracked by BlazePose from frame to frame; with
``max_people > 1`` (or a person detector of the user's) :class:`PeopleFollower` follows several,
each with its own id from :mod:`stmocap.realtime.tracking` and one landmark pass per person. IK is
warm-started from each track's previous frame. Frames without a person carry no track (the window
stage then ends it). Two stages, so the placement can run BlazePose and IK in different processes
(two cores).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from stmocap.models.blazepose.pipeline import (
    BlazePose,
    PoseResult,
    Roi,
    body_box,
    box_roi,
    engine_network,
    follow,
)
from stmocap.models.blazepose.smoothing import PoseSmoother
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.camera import SMPL_BONES, Intrinsics, smpl_transl_from_landmarks, undistort_pixels
from stmocap.models.ik.analytic import AnalyticSolver
from stmocap.models.ik.correspondence import TARGET_JOINTS, joint_targets
from stmocap.models.ik.solver import IKConfig, IKResult, IKSolver, fit_weak_perspective
from stmocap.models.people.base import PersonDetector
from stmocap.models.rotations import matrix_to_rotation_6d
from stmocap.models.temporal.features import EMBEDDING_DIM, lite_features
from stmocap.realtime.camera import CameraConfig, IntrinsicsResolver
from stmocap.realtime.messages import Message, content_time
from stmocap.realtime.schema import F32, I64, ArrayRule, KindSchema, image_size, schemas
from stmocap.realtime.stages.base import EOS, Stage
from stmocap.realtime.tracking import Tracker, TrackerConfig

COLD_ITERATIONS = 30
# Iterations of a warm-started L-BFGS solve (PerFrameConfig.ik_iterations); 0 (the default) is the
# closed-form solve (models/ik/analytic.py), which costs < 1 ms (docs/benchmarks.md, "Per-frame
# initialisation").
WARM_ITERATIONS = 0
MIN_TRUST = 0.25
# Levenberg–Marquardt steps of the perspective translation fit: a new track starts from the linear
# solve, later frames from the previous translation.
COLD_FIT_STEPS = 10
WARM_FIT_STEPS = 3
MIN_FIT_WEIGHT = 0.05
# SMPL_BONES as positions among TARGET_JOINTS (the points the translation fit sees).
FIT_BONES = tuple((TARGET_JOINTS.index(a), TARGET_JOINTS.index(b)) for a, b in SMPL_BONES)


@dataclass
class _Person:
    """One track's landmark state: the next frame's ROI (``None``: not found on the last frame)."""

    roi: Roi | None
    smoother: PoseSmoother


class PeopleFollower:
    """Several people with BlazePose: a person detector finds them, the tracker gives them ids, one
    landmark pass per tracked person.

    Per frame ``(H, W, 3)`` uint8 RGB:

    1. every track found on the previous frame gets a landmark pass in the region its previous
       landmarks give (mediapipe's tracking ROI: the projected body, rotated upright); a confirmed
       track not found there (occluded, lost) gets one in its previous projected body box moved
       by its velocity (:meth:`~stmocap.realtime.tracking.Track.predicted`);
    2. the person detector runs every ``detect_every`` frames to find newcomers, and on any frame
       where a live track was unseen on the previous frame or in step 1, or nobody is tracked;
    3. :class:`~stmocap.realtime.tracking.Tracker` matches the detections to the tracks (those
       found in step 1 use theirs up), re-finds occluded tracks by their predicted box and starts
       new ones, at most ``max_people`` live tracks;
    4. tracks (re)found by a detection get a landmark pass in the detection's region; where the
       landmark model finds nobody there the detection is undone.

    A person is published (has an id) once seen on ``tracker.min_hits`` frames in a row and keeps
    the id while unseen for up to ``tracker.max_missed`` frames; two tracks on one person (a region
    that drifted onto someone else while people cross) keep the one whose motion fits. Cost per
    frame: one landmark pass per live track, plus a detector pass on detection frames.

    Args:
        pose: its :meth:`~BlazePose.detect` and :meth:`~BlazePose.landmarks` are used (its own
            single-person tracking is not); ``min_detection``/``min_tracking`` thresholds too.
        detector: a :class:`~stmocap.models.people.base.PersonDetector` (default: BlazePose's own
            detector, whose keypoints also give each new person's rotation).
    """

    def __init__(self, pose: BlazePose, max_people: int, detector: PersonDetector | None = None,
                 detect_every: int = 10, tracker: TrackerConfig | None = None,
                 smooth: bool = True) -> None:
        if max_people < 1 or detect_every < 1:
            raise ValueError(f"max_people and detect_every must be >= 1, got {max_people}, {detect_every}")
        self.pose = pose
        self.detector = detector
        self.detect_every = detect_every
        self.max_people = max_people
        cfg = tracker or TrackerConfig()
        self.tracker = Tracker(replace(cfg, max_tracks=max_people))
        self.smooth = smooth
        self.people: dict[int, _Person] = {}
        self.frames = 0
        self.seen: int | None = None  # people the detector found on the last frame (None: not run)

    def forget(self) -> None:
        """Drop every person (a shot cut): the next frame runs the detector, and whoever it finds
        gets a new id once confirmed."""
        self.tracker.reset()
        self.people = {}

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Roi]]:
        h, w = image.shape[:2]
        if self.detector is None:
            dets = self.pose.detect(image)
            boxes = np.array([d.person_box(w, h) for d in dets], np.float32).reshape(-1, 4)
            return boxes, np.array([d.score for d in dets], np.float32), [d.roi(w, h) for d in dets]
        boxes, scores = self.detector(image)
        return boxes, scores, [box_roi(b) for b in boxes]

    def _landmarks(self, image: np.ndarray, person: _Person, roi: Roi, t: float) -> PoseResult | None:
        h, w = image.shape[:2]
        result = self.pose.landmarks(image, roi)
        if result.flag < self.pose.min_tracking:
            person.roi = None
            return None
        result, person.roi = follow(result, person.smoother, (w, h), t)
        return result

    def __call__(self, image: np.ndarray, t: float | None = None
                 ) -> list[tuple[int, PoseResult, np.ndarray]]:
        """``[(track id, landmarks, body box (4,) pixels)]`` of the people published on this
        frame, by id; ``t``: capture time in seconds (smoothing; default: frame index / 30)."""
        h, w = image.shape[:2]
        t = self.frames / 30.0 if t is None else t
        results: dict[int, PoseResult] = {}
        lost = any(self.people.get(tr.key) is None or self.people[tr.key].roi is None
                   for tr in self.tracker.tracks)
        for track in self.tracker.tracks:  # 1. each person where their landmarks were
            person = self.people.get(track.key)
            if person is not None and person.roi is not None:
                r = self._landmarks(image, person, person.roi, t)
            elif person is not None and track.confirmed:  # unseen: where its box should be now
                person.smoother = PoseSmoother(landmarks=self.smooth)
                r = self._landmarks(image, person, box_roi(track.predicted()), t)
            else:
                r = None
            if r is not None:
                results[track.key] = r
        observed = {k: body_box(r.landmarks, w, h) for k, r in results.items()}
        live = len(self.tracker.tracks)
        lost = lost or len(observed) < live
        self.seen = None
        boxes, scores, rois = np.zeros((0, 4), np.float32), np.zeros(0, np.float32), []
        if self.frames % self.detect_every == 0 or lost or not observed:  # 2.
            boxes, scores, rois = self._detect(image)
            self.seen = len(boxes)
        self.frames += 1
        self.tracker.update(boxes, scores, observed)  # 3.
        keys = {tr.key for tr in self.tracker.tracks}
        self.people = {k: p for k, p in self.people.items() if k in keys}
        for tr in self.tracker.tracks:
            if tr.key in results and not tr.seen:  # a second track on someone tracked already
                del results[tr.key]
                self.people[tr.key].roi = None
        for tr in list(self.tracker.tracks):  # 4. (re)found by a detection
            if tr.seen and tr.key not in results and tr.source >= 0:
                person = self.people[tr.key] = _Person(None, PoseSmoother(landmarks=self.smooth))
                r = self._landmarks(image, person, rois[tr.source], t)
                if r is None:
                    self.tracker.drop(tr.key)
                    continue
                results[tr.key] = r
                self.tracker.correct(tr.key, body_box(r.landmarks, w, h))
        self.people = {k: p for k, p in self.people.items() if k in {tr.key for tr in self.tracker.tracks}}
        shown = sorted((tr for tr in self.tracker.tracks if tr.confirmed and tr.seen and tr.key in results),
                       key=lambda tr: tr.id)
        return [(tr.id, results[tr.key], tr.box.astype(np.float32)) for tr in shown]


class BlazePoseDetect(Stage):
    """The lite profile's detect/track stage: BlazePose on the frame, the tracked people.

    ``detections`` arrays (``T`` tracked people, sorted by id): ``track_ids (T,)``, ``boxes (T, 4)``
    (square around the visible 2D landmarks, enlarged by 20 %), ``landmarks (T, 33, 5)`` (x, y
    normalised to the image, z, visibility, presence) and ``world (T, 33, 3)`` (metres,
    hip-centred, camera orientation); with ``embedding``, ``embedding (T, 1152)``: the landmark
    network's last shared feature map on each person's crop (and with ``mirrored_embedding``,
    for training data, ``embedding_mirrored (T, 1152)`` on the crop flipped left–right). The image
    itself is not forwarded: nothing downstream needs it.

    ``max_people`` 1 (the default) follows one person as mediapipe does (id 0, the detector runs
    only when tracking starts or is lost); more, or a ``detector`` of the user's (an ONNX file,
    docs/detectors.md), use :class:`PeopleFollower`. With ``cut_threshold`` > 0 a shot cut
    (:mod:`stmocap.realtime.cuts`) drops the tracking (the one person keeps id 0; several get new
    ids) and sets ``meta["cut"]``, so the later stages start afresh too.
    """

    name = "detect"
    consumes = ("frame",)
    produces = ("detections",)
    inputs = schemas({"frame": KindSchema({"image": ArrayRule(("uint8",), (None, None, 3))})})

    def __init__(self, backend: str = "auto", device: str = "cpu", smooth: bool = True,
                 max_people: int = 1, detector: Path | None = None, detect_every: int = 10,
                 cut_threshold: float = 0.0, embedding: bool = False,
                 mirrored_embedding: bool = False) -> None:
        from stmocap.engines.factory import open_model_engine
        from stmocap.realtime.cuts import CutDetector

        self.cuts = CutDetector(cut_threshold)
        self.embedding = embedding or mirrored_embedding
        self.mirrored_embedding = mirrored_embedding
        landmark = "blazepose-landmark-embedding" if self.embedding else "blazepose-landmark"
        # backend "auto" (resolved by the factory): ONNX Runtime when installed, ≈3× faster on CPU.
        self.engines = [open_model_engine(n, "full", backend=backend, device=device)
                        for n in ("blazepose-detection", landmark)]
        for engine in self.engines:  # first-call costs (allocation, kernels) before frame 0
            engine.warmup(calls=1)
        self.pose = BlazePose(detector=engine_network(self.engines[0]),
                              landmarker=engine_network(self.engines[1]), smooth=smooth,
                              mirrored_embedding=mirrored_embedding)
        self.people: PeopleFollower | None = None
        if max_people > 1 or detector is not None:
            from stmocap.models.people.onnx_detector import OnnxPersonDetector

            cuda = device.startswith("cuda")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else None
            person = OnnxPersonDetector(detector, providers=providers) if detector is not None else None
            self.people = PeopleFollower(self.pose, max_people, person, detect_every, smooth=smooth)
        self.max_people = max_people
        # Frames so far where the detector saw more people than are followed (it runs when
        # tracking starts or is lost, and with several people every detect_every frames; a frame
        # without a detector pass has no count), in every message's meta. Frames without a person
        # are counted for every profile by the stitch stage.
        self.counts = {"more_people": 0}

    def _count(self) -> dict[str, int]:
        seen = (self.people or self.pose).seen
        self.counts["more_people"] += (seen or 0) > self.max_people
        return dict(self.counts)

    def handle(self, msg: Message) -> list[Message]:
        if msg.kind == EOS:  # the totals travel on the end of stream too (nobody may be found)
            msg.meta.update(self.counts)
        return super().handle(msg)

    def process(self, msg: Message) -> list[Message]:
        image = msg.arrays["image"]
        h, w = image.shape[:2]
        cut = self.cuts(image)
        if cut and self.people is not None:  # another shot: nobody is where they were
            self.people.forget()
        elif cut:
            self.pose.reset()
        if self.people is not None:
            found = self.people(image, content_time(msg))
        else:
            result = self.pose(image, content_time(msg))
            found = [] if result is None else [(0, result, body_box(result.landmarks, w, h))]
        meta = {**msg.meta, "image_size": [w, h], **self._count()}
        if cut:
            meta["cut"] = True
        arrays = {"track_ids": np.array([f[0] for f in found], np.int64),
                  "boxes": np.array([f[2] for f in found], np.float32).reshape(-1, 4),
                  "landmarks": np.array([f[1].landmarks for f in found], np.float32).reshape(-1, 33, 5),
                  "world": np.array([f[1].world for f in found], np.float32).reshape(-1, 33, 3)}
        if self.embedding:
            arrays["embedding"] = np.array([f[1].embedding for f in found],
                                           np.float32).reshape(-1, EMBEDDING_DIM)
        if self.mirrored_embedding:
            arrays["embedding_mirrored"] = np.array([f[1].embedding_mirrored for f in found],
                                                    np.float32).reshape(-1, EMBEDDING_DIM)
        if found:
            flags = [f[1].flag for f in found]
            meta["pose_flag"] = flags[0] if self.people is None else flags
        return [msg.derive("detections", arrays, meta)]

    def close(self) -> None:
        for e in self.engines:
            e.close()


class IKPerFrame(Stage):
    """The lite profile's per-frame stage: landmarks → SMPL pose, shape and translation.

    Each track is warm-started from its previous frame. ``transl (T, 3)`` is SMPL's translation in
    the camera frame (metres): BlazePose's world landmarks placed by perspective on its undistorted
    2D landmarks under the run's intrinsics (warm-started per track), then the IK body's offset in
    their frame; the weak-perspective
    ``cam`` of the box is kept for models that take it. ``feats (T, 231)`` are the lite temporal
    network's per-frame features H (:func:`~stmocap.models.temporal.features.blazepose_features`
    of the track's landmarks, world points and box), so ``--temporal net`` can run a lite network
    on the windows; ``(T, 1383)`` when the detections carry the landmark network's ``embedding
    (T, 1152)`` (``--landmark-embedding``), appended after them. ``meta
    ["intrinsics"]`` says which intrinsics were used (:meth:`Intrinsics.to_meta`).

    ``height`` (metres, 0: unknown): every person gets the least-norm β of that standing height
    instead of the bone-length fit, and BlazePose's world landmarks (one body size whoever is
    filmed) are scaled by that body's skeleton against the mean one before the IK and the
    placement, so a tall person is posed taller and placed farther away (the features H stay
    BlazePose's own, as the temporal networks were trained on them).
    """

    name = "perframe"
    consumes = ("detections",)
    produces = ("estimates",)
    inputs = schemas({"detections": KindSchema(
        {"track_ids": ArrayRule(I64, ("T",)), "boxes": ArrayRule(F32, ("T", 4)),
         "landmarks": ArrayRule(F32, ("T", 33, 5)), "world": ArrayRule(F32, ("T", 33, 3))},
        {"image_size": image_size})})

    def __init__(self, body: BodyModelData, ik: IKConfig | None = None,
                 camera: CameraConfig | None = None, source: str = "", height: float = 0.0) -> None:
        from stmocap.models.body.stature import betas_for_stature, skeleton_scale

        ik = ik or IKConfig(iterations=WARM_ITERATIONS)
        self.betas: np.ndarray | None = None
        self.scale = 1.0
        if height:
            self.betas = betas_for_stature(body, height)
            self.scale = skeleton_scale(body, self.betas)
            ik = replace(ik, fit_shape=False)
        self.solver = IKSolver(body, ik)
        # iterations 0: closed form (no L-BFGS), the default
        self.analytic = (AnalyticSolver(self.solver.skeleton, aim=self.solver.config.aim,
                                        betas=self.betas)
                         if self.solver.config.iterations == 0 else None)
        self.previous: dict[int, IKResult] = {}
        self.previous_transl: dict[int, np.ndarray] = {}
        self.intrinsics = IntrinsicsResolver(camera or CameraConfig(), source)

    def _solve(self, tid: int, landmarks: np.ndarray, world: np.ndarray, box: np.ndarray,
               size: tuple[int, int], intr: Intrinsics
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        w, h = size
        vis = landmarks[:, 3]
        # Occluded points still carry BlazePose's best 3D guess: weigh them less, not zero.
        trust = (MIN_TRUST + (1 - MIN_TRUST) * vis).astype(np.float32)
        targets, weights = joint_targets((world * self.scale).astype(np.float32), trust)
        if self.analytic is not None:
            sol = self.analytic(targets, weights)
            rotmats, betas, offset, joints = sol.rotmats, sol.betas, sol.offset, sol.model_joints
        else:
            prev = self.previous.get(tid)
            # A new track starts from the analytic pose with more iterations; later frames start
            # from the previous solution, a few iterations away.
            ik = self.solver(torch.from_numpy(targets)[None], torch.from_numpy(weights)[None],
                             init=prev, iterations=COLD_ITERATIONS if prev is None else None,
                             betas=None if self.betas is None else
                             torch.from_numpy(self.betas.astype(np.float32))[None])
            self.previous[tid] = ik
            rotmats, betas = ik.rotmats[0].numpy(), ik.betas[0].numpy()
            offset, joints = ik.offset[0].numpy(), self.solver.model_joints(ik)[0].numpy()
        centre = (box[:2] + box[2:]) / 2
        side = float(box[2] - box[0])
        pix, pw = joint_targets(landmarks[:, :2] * [w, h], vis)
        idx = list(TARGET_JOINTS)
        cam = fit_weak_perspective(joints[idx], ((pix - centre) / (side / 2))[idx], pw[idx])
        # Perspective translation: BlazePose's metric world landmarks on its undistorted 2D ones,
        # then the IK body's offset in their frame → SMPL transl (docs/camera.md).
        upix, _ = joint_targets(undistort_pixels(landmarks[:, :2] * [w, h], intr), vis)
        prev_t = self.previous_transl.get(tid)
        transl, self.previous_transl[tid] = smpl_transl_from_landmarks(
            targets[idx], upix[idx], np.maximum(pw[idx], MIN_FIT_WEIGHT), intr,
            offset, joints[0], init=prev_t,
            iterations=COLD_FIT_STEPS if prev_t is None else WARM_FIT_STEPS, bones=FIT_BONES)
        pose = matrix_to_rotation_6d(torch.from_numpy(np.asarray(rotmats, np.float32))).numpy()
        return pose, np.asarray(betas, np.float32), cam, transl.astype(np.float32)

    def process(self, msg: Message) -> list[Message]:
        a = msg.arrays
        tids = [int(t) for t in a["track_ids"]]
        cut = bool(msg.meta.get("cut"))  # a new shot: no warm start from the last one
        for gone in [t for t in self.previous if cut or t not in tids]:
            del self.previous[gone]
        for gone in [t for t in self.previous_transl if cut or t not in tids]:
            del self.previous_transl[gone]
        size = tuple(msg.meta["image_size"])
        intr = self.intrinsics(size)
        solved = [self._solve(t, a["landmarks"][i], a["world"][i], a["boxes"][i], size, intr)
                  for i, t in enumerate(tids)]
        arrays = {"track_ids": a["track_ids"], "boxes": a["boxes"],
                  "pose_6d": np.stack([s[0] for s in solved]) if solved else
                  np.zeros((0, 24, 6), np.float32),
                  "betas": np.stack([s[1] for s in solved]) if solved else np.zeros((0, 10), np.float32),
                  "cam": np.stack([s[2] for s in solved]) if solved else np.zeros((0, 3), np.float32),
                  "transl": np.stack([s[3] for s in solved]) if solved else
                  np.zeros((0, 3), np.float32),
                  "feats": lite_features(a["landmarks"], a["world"], a["boxes"], size,
                                         a.get("embedding"))}
        meta = {**msg.meta, "intrinsics": intr.to_meta()}
        if self.betas is not None:
            meta["shape_given"] = True  # β is the stated height's: the temporal stage keeps it
        return [msg.derive("estimates", arrays, meta)]
