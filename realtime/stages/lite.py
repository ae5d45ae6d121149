"""The lite per-frame stage: BlazePose landmarks → inverse kinematics → SMPL estimates.

One person (track 0) per frame, tracked by BlazePose from frame to frame; IK is warm-started from
the previous frame. The person box is the square around the visible 2D landmarks, enlarged by
20 %; the weak-perspective camera of that box is fitted to the 2D landmarks of the IK joints.
Frames without a person carry no track (the window stage then ends the track).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
from stmocap.models.blazepose.pipeline import BlazePose, engine_network
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.ik.correspondence import TARGET_JOINTS, joint_targets
from stmocap.models.ik.solver import IKConfig, IKResult, IKSolver, fit_weak_perspective
from stmocap.models.rotations import matrix_to_rotation_6d
from stmocap.realtime.messages import Message
from stmocap.realtime.stages.base import Stage

BOX_MARGIN = 1.2
COLD_ITERATIONS = 30
# Measured on 2 cores: 5 warm L-BFGS iterations ≈ 11 ms; 8 ≈ 18 ms (docs/benchmarks.md).
WARM_ITERATIONS = 5
MIN_TRUST = 0.25


def default_backend() -> str:
    """ONNX Runtime when installed (≈3× faster on CPU for these networks), else PyTorch."""
    return "onnxruntime" if importlib.util.find_spec("onnxruntime") else "torch"


class LitePerFrame(Stage):
    name = "perframe"
    consumes = ("detections",)
    produces = ("estimates",)

    def __init__(self, body: BodyModelData, backend: str = "auto", device: str = "cpu",
                 ik: IKConfig | None = None) -> None:
        from stmocap.engines.factory import open_model_engine

        backend = default_backend() if backend == "auto" else backend
        self.engines = [open_model_engine(n, "full", backend=backend, device=device)
                        for n in ("blazepose-detection", "blazepose-landmark")]
        for engine in self.engines:  # first-call costs (allocation, kernels) before frame 0
            engine.warmup(calls=1)
        self.pose = BlazePose(detector=engine_network(self.engines[0]),
                              landmarker=engine_network(self.engines[1]))
        self.solver = IKSolver(body, ik or IKConfig(iterations=WARM_ITERATIONS))
        self.previous: IKResult | None = None

    def _empty(self, msg: Message, size: list[int]) -> Message:
        arrays = {"track_ids": np.zeros(0, np.int64), "boxes": np.zeros((0, 4), np.float32),
                  "pose_6d": np.zeros((0, 24, 6), np.float32), "betas": np.zeros((0, 10), np.float32),
                  "cam": np.zeros((0, 3), np.float32)}
        return msg.derive("estimates", arrays, {**msg.meta, "image_size": size})

    def process(self, msg: Message) -> list[Message]:
        image = msg.arrays["image"]
        h, w = image.shape[:2]
        result = self.pose(image)
        if result is None:
            self.previous = None
            return [self._empty(msg, [w, h])]
        vis = result.landmarks[:, 3]
        # Occluded points still carry BlazePose's best 3D guess: weigh them less, not zero.
        trust = (MIN_TRUST + (1 - MIN_TRUST) * vis).astype(np.float32)
        targets, weights = joint_targets(result.world.astype(np.float32), trust)
        t = torch.from_numpy(targets)[None]
        wt = torch.from_numpy(weights)[None]
        # A new track starts from the analytic pose with more iterations; later frames start from
        # the previous solution, a few iterations away.
        ik = self.solver(t, wt, init=self.previous,
                         iterations=COLD_ITERATIONS if self.previous is None else None)
        self.previous = ik
        px = result.landmarks[:, :2] * [w, h]
        seen = px[vis > 0.5] if (vis > 0.5).sum() >= 4 else px
        lo, hi = seen.min(0), seen.max(0)
        centre, side = (lo + hi) / 2, float((hi - lo).max() * BOX_MARGIN)
        box = np.array([*(centre - side / 2), *(centre + side / 2)], np.float32)
        pix, pw = joint_targets(px, vis)
        crop = (pix - centre) / (side / 2)
        joints = self.solver.model_joints(ik)[0].numpy()
        idx = list(TARGET_JOINTS)
        cam = fit_weak_perspective(joints[idx], crop[idx], pw[idx])
        arrays = {"track_ids": np.array([0], np.int64), "boxes": box[None],
                  "pose_6d": matrix_to_rotation_6d(ik.rotmats)[:, :, :].numpy().astype(np.float32),
                  "betas": ik.betas.numpy().astype(np.float32), "cam": cam[None]}
        meta = {**msg.meta, "image_size": [w, h], "pose_flag": result.flag}
        return [msg.derive("estimates", arrays, meta)]

    def close(self) -> None:
        for e in self.engines:
            e.close()
