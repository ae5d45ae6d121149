"""VMC protocol (Virtual Motion Capture: OSC over UDP) from the pose topic, for Unity humanoids
(EVMC4U, VSeeFace, …) and Blender add-ons that speak VMC.

Per received frame of the followed track, one OSC bundle of:

- ``/VMC/Ext/Root/Pos  "root" px py pz qx qy qz qw``: the avatar's root on the floor under the
  pelvis (``x, z`` of the pelvis, ``y`` = pelvis height minus the rest pelvis height), no
  rotation;
- ``/VMC/Ext/Bone/Pos  NAME px py pz qx qy qz qw`` for each bone of :data:`HUMANOID_BONES`: local
  rotations (relative to the parent, T-pose = identity, as Unity's humanoid muscles expect);
  ``Hips`` carries the body's world orientation and the rest pelvis height as local position,
  other bones position 0 (receivers keep the avatar's own proportions);
- ``/VMC/Ext/T time`` (seconds since the bridge started) and ``/VMC/Ext/OK 1``.

Frames. SMPL's body frame is right-handed: x = the body's left, y up, z forward. The stream's
world (``stmocap.viewer.geometry``: published ``T_world_cam``, else an upright camera; x = the
camera's left, y up, z the camera's forward) is right-handed too. Unity is **left-handed**, x
right, y up, z forward. With ``S = diag(-1, 1, 1)`` (a mirror of x):

- a position ``(x, y, z)`` becomes ``(-x, y, z)``;
- a rotation matrix ``R`` becomes ``S R S``; as a quaternion ``(x, y, z, w)`` → ``(x, -y, -z, w)``
  (the rotation axis is an axial vector: mirrored and negated).

A person facing the camera in the video faces Unity's -z, towards a Unity camera placed like ours
(looking along +z); the avatar's left hand is the person's left hand (a mirror of the frame, not
of the body).

SMPL → humanoid bone map (SMPL joint: Unity bone): pelvis: Hips, spine1: Spine, spine2: Chest,
spine3: UpperChest, neck: Neck, head: Head, left_hip / right_hip: LeftUpperLeg / RightUpperLeg,
left_knee / right_knee: LeftLowerLeg / RightLowerLeg, left_ankle / right_ankle: LeftFoot /
RightFoot, left_foot / right_foot: LeftToes / RightToes, left_collar / right_collar: LeftShoulder
/ RightShoulder, left_shoulder / right_shoulder: LeftUpperArm / RightUpperArm, left_elbow /
right_elbow: LeftLowerArm / RightLowerArm, left_wrist / right_wrist: LeftHand / RightHand. SMPL's
``left_hand`` / ``right_hand`` (finger bases) have no humanoid bone and are not sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from stmocap.viewer.geometry import WorldFrame

from stmocap.optional import require

HUMANOID_BONES: dict[int, str] = {
    0: "Hips", 3: "Spine", 6: "Chest", 9: "UpperChest", 12: "Neck", 15: "Head",
    1: "LeftUpperLeg", 2: "RightUpperLeg", 4: "LeftLowerLeg", 5: "RightLowerLeg",
    7: "LeftFoot", 8: "RightFoot", 10: "LeftToes", 11: "RightToes",
    13: "LeftShoulder", 14: "RightShoulder", 16: "LeftUpperArm", 17: "RightUpperArm",
    18: "LeftLowerArm", 19: "RightLowerArm", 20: "LeftHand", 21: "RightHand",
}
MIRROR_X = np.diag([-1.0, 1.0, 1.0])
DEFAULT_PORT = 39539  # the VMC protocol's usual receiver port (Performer → Marionette)


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation → ``(..., 4)`` quaternion ``(x, y, z, w)`` with ``w >= 0``."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat()  # scipy: (x, y, z, w)
    q *= np.where(q[:, 3:] < 0, -1.0, 1.0)
    return q.reshape(*R.shape[:-2], 4)


def to_unity_quaternion(R: np.ndarray) -> np.ndarray:
    """A right-handed y-up rotation ``(3, 3)`` → Unity's left-handed ``(x, y, z, w)``."""
    q = matrix_to_quaternion(np.asarray(R, np.float64))
    return q * np.array([1.0, -1.0, -1.0, 1.0])


def to_unity_position(p: np.ndarray) -> np.ndarray:
    """A right-handed y-up position ``(3,)`` → Unity's left-handed (x mirrored)."""
    return np.asarray(p, np.float64) * np.array([-1.0, 1.0, 1.0])


@dataclass
class VmcFrame:
    """One frame's VMC messages: ``(address, args)`` pairs in send order."""

    messages: list[tuple[str, list[Any]]]


def vmc_frame(pose: dict[str, np.ndarray], world: WorldFrame, hip_height: float,
              t: float) -> VmcFrame:
    """The messages of one pose (``rotmats (24, 3, 3)``, ``joints3d (24, 3)`` camera frame).
    ``hip_height``: the rest pelvis height above the soles (metres)."""
    world.update(pose)
    T = world.camera_to_world
    rot = np.asarray(pose["rotmats"], np.float64)
    pelvis = T[:3, :3] @ np.asarray(pose["joints3d"][0], np.float64) + T[:3, 3]
    root = to_unity_position(pelvis - np.array([0.0, hip_height, 0.0]))
    msgs: list[tuple[str, list[Any]]] = [
        ("/VMC/Ext/Root/Pos", ["root", *map(float, root), 0.0, 0.0, 0.0, 1.0])]
    for j, name in HUMANOID_BONES.items():
        R = T[:3, :3] @ rot[0] if j == 0 else rot[j]
        q = to_unity_quaternion(R)
        pos = (0.0, hip_height, 0.0) if j == 0 else (0.0, 0.0, 0.0)
        msgs.append(("/VMC/Ext/Bone/Pos", [name, *map(float, pos), *map(float, q)]))
    msgs += [("/VMC/Ext/T", [float(t)]), ("/VMC/Ext/OK", [1])]
    return VmcFrame(msgs)


class VmcSender:
    """Sends :class:`VmcFrame` bundles over UDP to ``host:port`` (python-osc)."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        require("pythonosc", "bridge", "python-osc speaks OSC")
        from pythonosc.udp_client import SimpleUDPClient

        self.client = SimpleUDPClient(host, port)

    def send(self, frame: VmcFrame) -> None:
        from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        bundle = OscBundleBuilder(IMMEDIATELY)
        for address, args in frame.messages:
            m = OscMessageBuilder(address=address)
            for a in args:
                m.add_arg(a, "i" if isinstance(a, int) else "f" if isinstance(a, float) else "s")
            bundle.add_content(m.build())  # type: ignore[arg-type]
        self.client.send(bundle.build())


def rest_hip_height(body: Any = None) -> float:
    """The rest pelvis height above the lowest vertex of the T-pose (free body by default)."""
    import torch
    from stmocap.models.body.model import load_body_model

    body = body if body is not None else load_body_model("free")
    with torch.inference_mode():
        out = body(torch.eye(3).expand(1, len(body.parents), 3, 3), torch.zeros(1, body.num_betas))
    return float(out.joints[0, 0, 1] - out.vertices[0, :, 1].min())


def run_vmc_bridge(endpoint: str, host: str, port: int, track: int | None = None,
                   frames: int = 0, keys: Any = None, client: str = "client") -> int:
    """Forward the stream's newest pose of ``track`` (default: the lowest track id present) as VMC
    until the stream ends or ``frames`` were sent; returns the number of frames sent."""
    from stmocap.viewer.stream import StreamClient

    sender = VmcSender(host, port)
    hip = rest_hip_height()
    to_unity_quaternion(np.eye(3))  # imports scipy now, not on the first frame
    world = WorldFrame()
    sent = 0
    last: tuple[int, int] | None = None
    restarts = 0
    t0 = time.monotonic()
    with StreamClient(endpoint, topics=("pose", "stats"), keys=keys, client=client) as sub:
        state = sub.state
        while not (frames and sent >= frames):
            sub.poll(100)
            state.prune()
            if state.restarts != restarts:  # a new publisher: maybe another camera and floor
                restarts, last = state.restarts, None
                world.reset()
            people = state.persons
            tr = track if track is not None else min(people, default=None)
            p = people.get(tr) if tr is not None else None
            if p is not None and p.pose and (tr, p.frame_index) != last:
                last = (tr, p.frame_index)
                sender.send(vmc_frame(p.pose, world, hip, time.monotonic() - t0))
                sent += 1
            if "pose" in state.ended:
                break
    return sent
