"""Body stage: SMPL forward (any engine backend), the camera and the world frame, per final frame.

Adds, in the camera frame (x right, y down, z forward, metres): ``transl (3,)`` — SMPL's own
translation, so SMPL(β, θ, transl) gives ``joints3d`` — from the per-frame stage's perspective fit
(or, for per-frame models with only a crop camera, converted from it under the run's intrinsics);
``pelvis (3,)`` = ``joints3d[0]``; ``joints3d (J, 3)``; ``joints2d (J, 2)`` = ``joints3d`` projected
with the published intrinsics (with their distortion: pixels of the raw image); ``vertices (V, 3)``;
``pose_aa (J·3,)`` (SMPL's axis-angle parameters). World frame of a static camera (floor at y = 0,
y up; :mod:`stmocap.models.camera.floor`): ``T_world_cam (4, 4)`` and ``pelvis_world (3,)``.
``meta``: ``intrinsics``, ``world_frame`` (stable, camera height, pitch, roll, contacts). Sends the
mesh faces once, before its first body.
"""

from __future__ import annotations

import numpy as np
import torch
from stmocap.engines.base import Engine
from stmocap.models.camera import Intrinsics, crop_cam_to_translation, project_points
from stmocap.models.camera.floor import FloorEstimator
from stmocap.models.rotations import matrix_to_axis_angle
from stmocap.realtime.camera import CameraConfig, IntrinsicsResolver
from stmocap.realtime.messages import Message, content_time
from stmocap.realtime.schema import F32, ArrayRule, KindSchema, image_size, schemas
from stmocap.realtime.stages.base import Stage

__all__ = ["BodyStage", "CameraConfig"]


class BodyStage(Stage):
    name = "body"
    consumes = ("params",)
    produces = ("faces", "body")
    inputs = schemas({"params": KindSchema(
        {"rotmats": ArrayRule(F32, (24, 3, 3)), "betas": ArrayRule(F32, (None,)),
         "cam": ArrayRule(F32, (3,)), "box": ArrayRule(F32, (4,))},
        {"image_size": image_size})})

    def __init__(self, engine: Engine, faces: np.ndarray, camera: CameraConfig | None = None,
                 source: str = "") -> None:
        self.engine = engine
        self.faces = np.asarray(faces, np.int32)
        self.camera = camera or CameraConfig()
        self.intrinsics = IntrinsicsResolver(self.camera, source)
        self.floor = self._new_floor()
        self._cut_seq: int | None = None
        self._sent_faces = False

    def _new_floor(self) -> FloorEstimator:
        return FloorEstimator(height=self.camera.camera_height or None, pitch=self.camera.camera_pitch)

    def process(self, msg: Message) -> list[Message]:
        a = msg.arrays
        size = tuple(msg.meta["image_size"])
        known = msg.meta.get("intrinsics")
        intr = Intrinsics.from_meta(known) if known else self.intrinsics(size)
        out = self.engine({"rotmats": a["rotmats"][None], "betas": a["betas"][None],
                           "transl": np.zeros((1, 3), np.float32)})
        verts = out["vertices"][0].float().cpu().numpy()
        joints = out["joints"][0].float().cpu().numpy()
        if "transl" in a:
            transl = np.asarray(a["transl"], np.float32)
        else:
            box = a["box"]
            center = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
            side = np.array([max(box[2] - box[0], box[3] - box[1])])
            transl = crop_cam_to_translation(a["cam"][None].astype(np.float64), center, side,
                                             intr)[0].astype(np.float32)
        joints3d = (joints + transl).astype(np.float32)
        vertices = (verts + transl).astype(np.float32)
        if msg.meta.get("cut") and msg.seq != self._cut_seq:  # another shot, another camera
            self.floor, self._cut_seq = self._new_floor(), msg.seq
        world = self.floor.update(vertices, joints3d, content_time(msg), msg.track)
        T = world.T_world_cam
        arrays = dict(a)
        arrays.update({
            "transl": transl, "pelvis": joints3d[0].copy(), "joints3d": joints3d,
            "joints2d": project_points(joints3d, intr).astype(np.float32),
            "vertices": vertices,
            "pose_aa": matrix_to_axis_angle(torch.from_numpy(a["rotmats"].astype(np.float64)))
            .numpy().reshape(-1).astype(np.float32),
            "T_world_cam": T.astype(np.float32),
            "pelvis_world": (T[:3, :3] @ joints3d[0] + T[:3, 3]).astype(np.float32),
        })
        meta = dict(msg.meta)
        meta["intrinsics"] = intr.to_meta()
        meta["world_frame"] = {"stable": world.stable, "camera_height": world.height,
                               "camera_pitch": world.pitch, "camera_roll": world.roll,
                               "contacts": world.contacts}
        result = [msg.derive("body", arrays, meta)]
        if not self._sent_faces:
            self._sent_faces = True
            result.insert(0, msg.derive("faces", {"faces": self.faces}))
        return result

    def close(self) -> None:
        self.engine.close()
