"""The BVH reader: hierarchy, channel order, forward kinematics, malformed files."""

from __future__ import annotations

import numpy as np
import pytest
from stmocap.groundtruth.bvh import forward_kinematics, local_transforms, parse_bvh, rest_positions

TWO_BONES = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Arm
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 2 0 0
    }
  }
  JOINT Leg
  {
    OFFSET 0 -1 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT Foot
    {
      OFFSET 0 -1 0
      CHANNELS 3 Zrotation Yrotation Xrotation
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0083333
0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0 0 0 0 0 0 0
"""


def test_hierarchy_and_frames() -> None:
    m = parse_bvh(TWO_BONES)
    sk = m.skeleton
    assert sk.names == ("Hips", "Arm", "Leg", "Foot") and sk.parents == (-1, 0, 0, 2)
    assert m.num_frames == 2 and m.fps == pytest.approx(120.0, rel=1e-4)
    np.testing.assert_allclose(sk.end_sites[1], [2, 0, 0])
    np.testing.assert_allclose(rest_positions(sk), [[0, 0, 0], [1, 0, 0], [0, -1, 0], [0, -2, 0]])


def test_forward_kinematics_follows_the_channels() -> None:
    """Frame 1: the root moves to (1, 2, 3) and turns 90° about z: the arm (+x) points to +y and
    the leg (−y) to +x."""
    m = parse_bvh(TWO_BONES)
    local, root = local_transforms(m)
    _, pos = forward_kinematics(m.skeleton, local, root)
    np.testing.assert_allclose(pos[0], rest_positions(m.skeleton), atol=1e-12)
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [1, 3, 3], [2, 2, 3], [3, 2, 3]], atol=1e-12)


def test_channel_order_is_intrinsic_in_file_order() -> None:
    """``Zrotation Yrotation Xrotation``: R = Rz · Ry · Rx (not Rx · Ry · Rz)."""
    text = TWO_BONES.replace("1 2 3 90 0 0", "0 0 0 90 0 90")
    m = parse_bvh(text)
    local, _ = local_transforms(m)
    Rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    Rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
    np.testing.assert_allclose(local[1, 0], Rz @ Rx, atol=1e-12)


def test_malformed_files_are_refused() -> None:
    with pytest.raises(ValueError, match="15 channels"):
        parse_bvh(TWO_BONES.replace("Frames: 2", "Frames: 3"))
    with pytest.raises(ValueError, match="expected 'HIERARCHY'"):
        parse_bvh("MOTION")
    with pytest.raises(ValueError, match="ended early"):
        parse_bvh(TWO_BONES.split("MOTION")[0][:-20])
