"""The lite profile's two first stages: BlazePose (detect/track) and inverse kinematics (per-frame).

One person (track 0) per frame, tracked by BlazePose from frame to frame; IK is warm-started from
the previous frame. Frames without a person carry no track (the window stage then ends it). Two
stages, so the placement can run BlazePose and IK in different processes (two cores).
"""

from __future__ import annotations

import numpy as np
import torch
from stmocap.models.blazepose.pipeline import BlazePose, engine_network
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.camera import SMPL_BONES, Intrinsics, smpl_transl_from_landmarks, undistort_pixels
from stmocap.models.ik.correspondence import TARGET_JOINTS, joint_targets
from stmocap.models.ik.solver import IKConfig, IKResult, IKSolver, fit_weak_perspective
from stmocap.models.rotations import matrix_to_rotation_6d
from stmocap.models.temporal.features import FEATURE_DIM, blazepose_features
from stmocap.realtime.camera import CameraConfig, IntrinsicsResolver
from stmocap.realtime.messages import Message, content_time
from stmocap.realtime.schema import F32, I64, ArrayRule, KindSchema, image_size, schemas
from stmocap.realtime.stages.base import EOS, Stage

BOX_MARGIN = 1.2
COLD_ITERATIONS = 30
# Iterations of a warm-started solve (PerFrameConfig.ik_iterations): closed-loop accuracy and cost
# of 2–5 are in docs/benchmarks.md.
WARM_ITERATIONS = 5
MIN_TRUST = 0.25
# Levenberg–Marquardt steps of the perspective translation fit: a new track starts from the linear
# solve, later frames from the previous translation.
COLD_FIT_STEPS = 10
WARM_FIT_STEPS = 3
MIN_FIT_WEIGHT = 0.05
# SMPL_BONES as positions among TARGET_JOINTS (the points the translation fit sees).
FIT_BONES = tuple((TARGET_JOINTS.index(a), TARGET_JOINTS.index(b)) for a, b in SMPL_BONES)


class BlazePoseDetect(Stage):
    """The lite profile's detect/track stage: BlazePose on the frame, one tracked person (id 0).

    ``detections`` arrays: ``track_ids (T,)``, ``boxes (T, 4)`` (square around the visible 2D
    landmarks, enlarged by 20 %), ``landmarks (T, 33, 5)`` (x, y normalised to the image, z,
    visibility, presence) and ``world (T, 33, 3)`` (metres, hip-centred, camera orientation). The
    image itself is not forwarded: nothing downstream needs it.
    """

    name = "detect"
    consumes = ("frame",)
    produces = ("detections",)
    inputs = schemas({"frame": KindSchema({"image": ArrayRule(("uint8",), (None, None, 3))})})

    def __init__(self, backend: str = "auto", device: str = "cpu", smooth: bool = True) -> None:
        from stmocap.engines.factory import open_model_engine

        # backend "auto" (resolved by the factory): ONNX Runtime when installed, ≈3× faster on CPU.
        self.engines = [open_model_engine(n, "full", backend=backend, device=device)
                        for n in ("blazepose-detection", "blazepose-landmark")]
        for engine in self.engines:  # first-call costs (allocation, kernels) before frame 0
            engine.warmup(calls=1)
        self.pose = BlazePose(detector=engine_network(self.engines[0]),
                              landmarker=engine_network(self.engines[1]), smooth=smooth)
        # Frames so far where the detector saw more people than the one followed (it runs when
        # tracking starts or is lost; a tracked frame has no count), in every message's meta.
        # Frames without a person are counted for every profile by the stitch stage.
        self.counts = {"more_people": 0}

    def _count(self) -> dict[str, int]:
        self.counts["more_people"] += (self.pose.seen or 0) > 1
        return dict(self.counts)

    def handle(self, msg: Message) -> list[Message]:
        if msg.kind == EOS:  # the totals travel on the end of stream too (nobody may be found)
            msg.meta.update(self.counts)
        return super().handle(msg)

    def process(self, msg: Message) -> list[Message]:
        image = msg.arrays["image"]
        h, w = image.shape[:2]
        result = self.pose(image, content_time(msg))
        meta = {**msg.meta, "image_size": [w, h], **self._count()}
        if result is None:
            arrays = {"track_ids": np.zeros(0, np.int64), "boxes": np.zeros((0, 4), np.float32),
                      "landmarks": np.zeros((0, 33, 5), np.float32),
                      "world": np.zeros((0, 33, 3), np.float32)}
            return [msg.derive("detections", arrays, meta)]
        vis = result.landmarks[:, 3]
        px = result.landmarks[:, :2] * [w, h]
        seen = px[vis > 0.5] if (vis > 0.5).sum() >= 4 else px
        lo, hi = seen.min(0), seen.max(0)
        centre, side = (lo + hi) / 2, float((hi - lo).max() * BOX_MARGIN)
        box = np.array([*(centre - side / 2), *(centre + side / 2)], np.float32)
        arrays = {"track_ids": np.array([0], np.int64), "boxes": box[None],
                  "landmarks": result.landmarks[None].astype(np.float32),
                  "world": result.world[None].astype(np.float32)}
        meta["pose_flag"] = result.flag
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
    network's per-frame features H (:func:`blazepose_features` of the track's landmarks, world
    points and box), so ``--temporal net`` can run a lite network on the windows. ``meta
    ["intrinsics"]`` says which intrinsics were used (:meth:`Intrinsics.to_meta`).
    """

    name = "perframe"
    consumes = ("detections",)
    produces = ("estimates",)
    inputs = schemas({"detections": KindSchema(
        {"track_ids": ArrayRule(I64, ("T",)), "boxes": ArrayRule(F32, ("T", 4)),
         "landmarks": ArrayRule(F32, ("T", 33, 5)), "world": ArrayRule(F32, ("T", 33, 3))},
        {"image_size": image_size})})

    def __init__(self, body: BodyModelData, ik: IKConfig | None = None,
                 camera: CameraConfig | None = None, source: str = "") -> None:
        self.solver = IKSolver(body, ik or IKConfig(iterations=WARM_ITERATIONS))
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
        targets, weights = joint_targets(world.astype(np.float32), trust)
        prev = self.previous.get(tid)
        # A new track starts from the analytic pose with more iterations; later frames start from
        # the previous solution, a few iterations away.
        ik = self.solver(torch.from_numpy(targets)[None], torch.from_numpy(weights)[None],
                         init=prev, iterations=COLD_ITERATIONS if prev is None else None)
        self.previous[tid] = ik
        centre = (box[:2] + box[2:]) / 2
        side = float(box[2] - box[0])
        pix, pw = joint_targets(landmarks[:, :2] * [w, h], vis)
        idx = list(TARGET_JOINTS)
        joints = self.solver.model_joints(ik)[0].numpy()
        cam = fit_weak_perspective(joints[idx], ((pix - centre) / (side / 2))[idx], pw[idx])
        # Perspective translation: BlazePose's metric world landmarks on its undistorted 2D ones,
        # then the IK body's offset in their frame → SMPL transl (docs/camera.md).
        upix, _ = joint_targets(undistort_pixels(landmarks[:, :2] * [w, h], intr), vis)
        prev_t = self.previous_transl.get(tid)
        transl, self.previous_transl[tid] = smpl_transl_from_landmarks(
            targets[idx], upix[idx], np.maximum(pw[idx], MIN_FIT_WEIGHT), intr,
            ik.offset[0].numpy(), joints[0], init=prev_t,
            iterations=COLD_FIT_STEPS if prev_t is None else WARM_FIT_STEPS, bones=FIT_BONES)
        pose = matrix_to_rotation_6d(ik.rotmats)[0].numpy().astype(np.float32)
        return pose, ik.betas[0].numpy().astype(np.float32), cam, transl.astype(np.float32)

    def process(self, msg: Message) -> list[Message]:
        a = msg.arrays
        tids = [int(t) for t in a["track_ids"]]
        for gone in [t for t in self.previous if t not in tids]:
            del self.previous[gone]
            self.previous_transl.pop(gone, None)
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
                  "feats": blazepose_features(a["landmarks"][:, :, :4], a["world"], a["boxes"], size)
                  if solved else np.zeros((0, FEATURE_DIM), np.float32)}
        return [msg.derive("estimates", arrays, {**msg.meta, "intrinsics": intr.to_meta()})]
