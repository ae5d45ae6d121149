"""A known posed body, as the publisher would send it: the golden-image test, the stream tests,
the bridges' tests and the docs' screenshots use it (deterministic, no camera, no network).

The pose is a fixed "walking, left arm raised" SMPL pose (``SAMPLE_POSE_AA``, axis-angle per
joint, SMPL's body frame), turned to face the camera (global orientation: 180° about x, so the
body's y-up becomes the camera's y-down) and placed ``depth`` metres in front of it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from stmocap.models.camera.floor import normal_from_angles, world_from_floor

# (joint, axis-angle in radians, SMPL body frame: x = body's left, y up, z forward).
SAMPLE_POSE_AA: dict[int, tuple[float, float, float]] = {
    1: (-0.5, 0.0, 0.1),  # left hip forward
    2: (0.35, 0.0, -0.1),  # right hip back
    4: (0.6, 0.0, 0.0),  # left knee
    5: (0.3, 0.0, 0.0),  # right knee
    3: (0.1, 0.0, 0.0),  # spine
    16: (0.0, 0.0, 1.2),  # left shoulder: arm up
    17: (0.0, 0.0, 1.2),  # right shoulder: arm down
    18: (0.0, -0.8, 0.0),  # left elbow
    19: (0.0, 0.5, 0.0),  # right elbow
    15: (0.2, 0.3, 0.0),  # head
}
FACE_CAMERA = (np.pi, 0.0, 0.0)


def _rotmat(aa: np.ndarray) -> np.ndarray:
    """Rodrigues: ``(3,)`` axis-angle → ``(3, 3)``."""
    theta = float(np.linalg.norm(aa))
    if theta < 1e-12:
        return np.eye(3)
    k = aa / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K


def sample_pose_aa(phase: float = 0.0) -> np.ndarray:
    """``(24, 3)`` axis-angle: the sample pose, the hips swinging with ``phase`` (radians; 0 is
    the reference pose), the root facing the camera."""
    aa = np.zeros((24, 3))
    aa[0] = FACE_CAMERA
    for j, v in SAMPLE_POSE_AA.items():
        aa[j] = v
    aa[1, 0] += 0.3 * np.sin(phase)
    aa[2, 0] -= 0.3 * np.sin(phase)
    return aa


class SampleBody:
    """The free body (or any :class:`~stmocap.models.body.model.BodyModel`) posed with the sample
    pose: :meth:`frame` gives the arrays of one published pose and mesh, camera frame."""

    def __init__(self, body: Any = None) -> None:
        import torch
        from stmocap.models.body.model import load_body_model

        self.torch = torch
        self.body = body if body is not None else load_body_model("free")
        self.faces = np.asarray(self.body.faces, np.int32)

    def frame(self, phase: float = 0.0, depth: float = 3.0, x: float = 0.0,
              image_size: tuple[int, int] = (640, 480), focal: float = 600.0,
              betas: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Arrays of one pose (``rotmats``, ``pose_aa``, ``betas``, ``cam``, ``transl``,
        ``joints3d``, ``joints2d``, ``box``, ``pelvis``, ``T_world_cam``, ``pelvis_world``) and
        ``vertices (V, 3)``, float32, camera frame (``T_world_cam``: a level camera, the floor under
        the feet)."""
        torch = self.torch
        aa = sample_pose_aa(phase)
        rot = np.stack([_rotmat(a) for a in aa])
        transl = np.array([x, -0.2, depth])
        b = np.zeros(10, np.float32) if betas is None else np.asarray(betas, np.float32)
        with torch.inference_mode():
            out = self.body(torch.as_tensor(rot[None], dtype=torch.float32),
                            torch.as_tensor(b[None]), torch.as_tensor(transl[None], dtype=torch.float32))
        joints = out.joints[0].numpy().astype(np.float64)
        W, H = image_size
        uv = joints[:, :2] * focal / joints[:, 2:3] + np.array([(W - 1) / 2, (H - 1) / 2])
        box = np.array([*uv.min(0), *uv.max(0)])
        f32 = np.float32
        # A level camera whose floor (docs/camera.md's world frame: y up, floor y = 0) touches the
        # body's lowest point (camera y points down).
        verts = out.vertices[0].numpy()
        T = world_from_floor(normal_from_angles(0.0), float(verts[:, 1].max()))
        return {"rotmats": rot.astype(f32), "pose_aa": aa.reshape(72).astype(f32),
                "betas": b, "cam": np.array([1.0, 0.0, 0.0], f32),
                "transl": transl.astype(f32), "joints3d": joints.astype(f32),
                "joints2d": uv.astype(f32), "box": box.astype(f32),
                "pelvis": joints[0].astype(f32), "T_world_cam": T.astype(f32),
                "pelvis_world": (T[:3, :3] @ joints[0] + T[:3, 3]).astype(f32),
                "vertices": verts.astype(f32)}


def body_message(arrays: dict[str, np.ndarray], frame_index: int, track: int = 0,
                 image_size: tuple[int, int] = (640, 480), focal: float = 600.0,
                 fps: float = 30.0) -> Any:
    """The graph's ``body`` message for :class:`stmocap.realtime.publisher.Publisher` (it
    publishes ``pose`` and ``mesh`` from it)."""
    from stmocap.models.camera import Intrinsics
    from stmocap.realtime.messages import Message

    now = time.monotonic_ns()
    T = arrays.get("T_world_cam")
    height = float(T[1, 3]) if T is not None else 0.0
    return Message(kind="body", seq=frame_index, stream="main", frame_index=frame_index,
                   track=track, t_capture_ns=now, stamps={"source": now}, arrays=dict(arrays),
                   meta={"image_size": list(image_size),
                         "intrinsics": Intrinsics(focal, focal, (image_size[0] - 1) / 2,
                                                  (image_size[1] - 1) / 2, image_size).to_meta(),
                         "world_frame": {"stable": True, "camera_height": height, "camera_pitch": 0.0,
                                         "camera_roll": 0.0, "contacts": 0},
                         "fps": fps, "windows": 1, "dropped": 0, "unreadable": 0, "no_person": 0})
