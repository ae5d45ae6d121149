"""Body stage: SMPL forward (any engine backend) and the camera, per final frame.

Adds, in the camera frame (x right, y down, z forward, metres): ``transl (3,)`` from the crop's
weak-perspective camera, ``joints3d (J, 3)``, ``joints2d (J, 2)`` pixels, ``vertices (V, 3)``, and
``pose_aa (J·3,)`` (SMPL's axis-angle parameters). Sends the mesh faces once, before its first
body.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from stmocap.engines.base import Engine
from stmocap.models.camera import crop_cam_to_translation, default_focal, focal_from_fov, project
from stmocap.models.rotations import matrix_to_axis_angle
from stmocap.realtime.messages import Message
from stmocap.realtime.schema import F32, ArrayRule, KindSchema, image_size, schemas
from stmocap.realtime.stages.base import Stage


@dataclass(frozen=True)
class CameraConfig:
    """Intrinsics used to place the body in the full image."""

    fov: float = field(default=0.0, metadata={
        "help": "horizontal field of view of the camera in degrees (0: HMR2.0's default focal)"})


class BodyStage(Stage):
    name = "body"
    consumes = ("params",)
    produces = ("faces", "body")
    inputs = schemas({"params": KindSchema(
        {"rotmats": ArrayRule(F32, (24, 3, 3)), "betas": ArrayRule(F32, (None,)),
         "cam": ArrayRule(F32, (3,)), "box": ArrayRule(F32, (4,))},
        {"image_size": image_size})})

    def __init__(self, engine: Engine, faces: np.ndarray, camera: CameraConfig | None = None) -> None:
        self.engine = engine
        self.faces = np.asarray(faces, np.int32)
        self.camera = camera or CameraConfig()
        self._sent_faces = False

    def _focal(self, size: tuple[int, int]) -> float:
        W, H = size
        return focal_from_fov(self.camera.fov, W, H) if self.camera.fov else default_focal(W, H)

    def process(self, msg: Message) -> list[Message]:
        a = msg.arrays
        size = tuple(msg.meta["image_size"])
        out = self.engine({"rotmats": a["rotmats"][None], "betas": a["betas"][None],
                           "transl": np.zeros((1, 3), np.float32)})
        verts = out["vertices"][0].float().cpu().numpy()
        joints = out["joints"][0].float().cpu().numpy()
        box = a["box"]
        center = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
        side = np.array([max(box[2] - box[0], box[3] - box[1])])
        focal = self._focal(size)
        transl = crop_cam_to_translation(a["cam"][None].astype(np.float64), center, side, size,
                                         focal)[0].astype(np.float32)
        joints3d = joints + transl
        arrays = dict(a)
        arrays.update({
            "transl": transl, "joints3d": joints3d.astype(np.float32),
            "joints2d": project(joints3d, focal, size).astype(np.float32),
            "vertices": (verts + transl).astype(np.float32),
            "pose_aa": matrix_to_axis_angle(torch.from_numpy(a["rotmats"].astype(np.float64)))
            .numpy().reshape(-1).astype(np.float32),
        })
        meta = dict(msg.meta)
        meta["focal"] = focal
        result = [msg.derive("body", arrays, meta)]
        if not self._sent_faces:
            self._sent_faces = True
            result.insert(0, msg.derive("faces", {"faces": self.faces}))
        return result

    def close(self) -> None:
        self.engine.close()
