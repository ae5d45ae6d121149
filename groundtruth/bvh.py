"""Reading BVH motion capture: the skeleton, the channel values, forward kinematics.

A BVH file is a ``HIERARCHY`` (joints with an ``OFFSET`` from their parent in the parent's frame,
a list of ``CHANNELS``, and ``End Site`` leaves) followed by ``MOTION`` (``Frames:``, ``Frame Time:``
and one line of channel values per frame, in the order the channels appear in the hierarchy).
Rotation channels are Euler angles in degrees applied in the order listed, each about the joint's
own (already rotated) axis: ``Zrotation Yrotation Xrotation`` means ``R_local = Rz · Ry · Rx``.
A joint's world rotation is ``R_world_parent · R_local`` and its position
``p_parent + R_world_parent · OFFSET``; the root's position channels replace its offset.

Units and axes are the file's own (CMU's cgspeed conversion: y up, the subject facing +z at rest
with its left at +x, lengths in CMU's ASF unit of 1/0.45 inch, see :data:`CMU_UNIT_M`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# CMU's ASF files store lengths in units of 1/0.45 inch (their ``length 0.45`` header scales
# inches); the cgspeed BVH conversion keeps them.
CMU_UNIT_M = 0.0254 / 0.45


@dataclass(frozen=True)
class Skeleton:
    """``names`` of the J joints (End Sites excluded) in file order, ``parents (J,)`` (−1: root),
    ``offsets (J, 3)`` from the parent in the parent's rest frame (file units), ``channels``: the
    channel names per joint, and ``end_sites``: joint index → End Site offset ``(3,)``."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_sites: dict[int, np.ndarray]

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class BvhMotion:
    """A parsed file: its :class:`Skeleton`, ``values (T, C)`` (all channels per frame, file
    order) and ``fps`` (1 / Frame Time)."""

    skeleton: Skeleton
    values: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])


def parse_bvh(text: str) -> BvhMotion:
    """Parse the text of a BVH file (a clear :class:`ValueError` on malformed input)."""
    tokens = text.split()
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("BVH ended early")
        pos += 1
        return tokens[pos - 1]

    def expect(word: str) -> None:
        got = take()
        if got.upper() != word.upper():
            raise ValueError(f"BVH: expected '{word}', got '{got}'")

    def vec3() -> np.ndarray:
        return np.array([float(take()) for _ in range(3)])

    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    channels: list[tuple[str, ...]] = []
    end_sites: dict[int, np.ndarray] = {}
    expect("HIERARCHY")
    expect("ROOT")
    stack: list[int] = []
    kind = "ROOT"
    while True:
        if kind in ("ROOT", "JOINT"):
            names.append(take())
            parents.append(stack[-1] if stack else -1)
            expect("{")
            expect("OFFSET")
            offsets.append(vec3())
            expect("CHANNELS")
            channels.append(tuple(take() for _ in range(int(take()))))
            stack.append(len(names) - 1)
        elif kind == "END":
            expect("Site")
            expect("{")
            expect("OFFSET")
            end_sites[stack[-1]] = vec3()
            expect("}")
        elif kind == "}":
            stack.pop()
            if not stack:
                break
        else:
            raise ValueError(f"BVH: unexpected '{kind}' in the hierarchy")
        kind = take().upper()
    expect("MOTION")
    expect("Frames:")
    num_frames = int(take())
    expect("Frame")
    expect("Time:")
    frame_time = float(take())
    width = sum(len(c) for c in channels)
    values = np.asarray(tokens[pos:], dtype=np.float64)
    if num_frames < 1 or values.size != num_frames * width:
        raise ValueError(f"BVH: {num_frames} frames × {width} channels expected, got {values.size} values")
    if not frame_time > 0:
        raise ValueError(f"BVH: Frame Time must be > 0, got {frame_time}")
    skeleton = Skeleton(tuple(names), tuple(parents), np.stack(offsets), tuple(channels), end_sites)
    return BvhMotion(skeleton, values.reshape(num_frames, width), 1.0 / frame_time)


def load_bvh(path: Path) -> BvhMotion:
    """Read and parse a ``.bvh`` file."""
    return parse_bvh(Path(path).read_text())


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations by ``degrees (T,)`` about the x, y or z axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros((len(a), 3, 3))
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    R[:, i, i] = 1.0
    R[:, j, j], R[:, j, k], R[:, k, j], R[:, k, k] = c, -s, s, c
    return R


def local_transforms(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``local (T, J, 3, 3)`` rotations and ``root_pos (T, 3)`` (file units, the root's
    offset where the file has no position channels) from the channel values."""
    sk = motion.skeleton
    T = motion.num_frames
    local = np.tile(np.eye(3), (T, len(sk.names), 1, 1))
    root_pos = np.tile(sk.offsets[0], (T, 1))
    col = 0
    for j, chans in enumerate(sk.channels):
        for ch in chans:
            v = motion.values[:, col]
            col += 1
            axis, what = ch[0].lower(), ch[1:].lower()
            if what == "rotation":
                local[:, j] = local[:, j] @ _axis_rotation(axis, v)
            elif what == "position" and j == 0:
                root_pos[:, "xyz".index(axis)] = v
            else:
                raise ValueError(f"BVH: unsupported channel {ch} on {sk.names[j]}")
    return local, root_pos


def forward_kinematics(skeleton: Skeleton, local: np.ndarray,
                       root_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``local (T, J, 3, 3)``, ``root_pos (T, 3)`` → world rotations ``(T, J, 3, 3)`` and joint
    positions ``(T, J, 3)`` (file units and axes)."""
    world = np.empty_like(local)
    pos = np.empty((*local.shape[:2], 3))
    for j, p in enumerate(skeleton.parents):
        if p < 0:
            world[:, j], pos[:, j] = local[:, j], root_pos
        else:
            world[:, j] = world[:, p] @ local[:, j]
            pos[:, j] = pos[:, p] + world[:, p] @ skeleton.offsets[j]
    return world, pos


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """``(J, 3)`` joint positions of the rest pose (all rotations identity, root at its offset)."""
    pos = np.zeros((len(skeleton.names), 3))
    for j, p in enumerate(skeleton.parents):
        pos[j] = skeleton.offsets[j] if p < 0 else pos[p] + skeleton.offsets[j]
    return pos
