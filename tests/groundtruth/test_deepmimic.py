"""DeepMimic → SMPL retargeting on every shipped clip, checked against the source skeleton."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stmocap.groundtruth.deepmimic import (
    CHECKED_BONES,
    FRAME_SIZE,
    joint_positions,
    parse_frames,
    resample,
    to_smpl,
)
from stmocap.groundtruth.motions import load_motion, load_motions
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import axis_angle_to_matrix

MOTIONS = load_motions(groups=("deepmimic",))


@pytest.fixture(scope="module")
def body():  # type: ignore[no-untyped-def]
    return load_body_model("free", dtype=torch.float64)


def _joints(body, poses: np.ndarray, transl: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        out = body(axis_angle_to_matrix(torch.from_numpy(poses)),
                   torch.zeros(len(poses), 10, dtype=torch.float64), torch.from_numpy(transl))
    return out.joints.numpy(), out.vertices.numpy()


def test_all_clips_ship() -> None:
    assert len(MOTIONS) == 15 and {"walk", "run", "jump", "kick", "punch", "dance_a"} <= set(MOTIONS)
    with pytest.raises(KeyError, match="available: backflip"):
        load_motion("moonwalk")


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_no_limb_flips_against_the_source_skeleton(name: str, body) -> None:  # type: ignore[no-untyped-def]
    """Every frame: each checked bone (thighs, shins, upper arms, forearms, trunk) of the SMPL body
    points where the DeepMimic skeleton's does. The only difference allowed is the two skeletons'
    rest-pose layout (measured ≤ 8.7°); a flipped or swapped limb would be tens of degrees off."""
    motion = MOTIONS[name]
    clip = resample(parse_frames(motion.source, name), motion.fps)
    poses, _ = to_smpl(clip)
    np.testing.assert_allclose(poses, motion.poses, atol=1e-5)  # the shipped file is reproducible
    joints, verts = _joints(body, motion.poses, motion.transl)
    from stmocap.groundtruth.deepmimic import bone_angles

    angles = bone_angles(joints, clip)
    assert angles.shape == (motion.num_frames, len(CHECKED_BONES))
    assert angles.max() < 12.0, (name, angles.max(0).round(1))
    # The clip stands on the ground: its lowest vertex over the clip is at y = 0.
    assert abs(verts[..., 1].min()) < 1e-3
    # The pelvis follows DeepMimic's root (moved into SMPL's axes, lifted to the ground).
    dm_root = joint_positions(clip)[:, 0]
    travel = np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=1).sum()
    dm_travel = np.linalg.norm(np.diff(dm_root, axis=0), axis=1).sum()
    assert travel == pytest.approx(dm_travel, rel=1e-3)


def test_frames_are_checked_and_resampled() -> None:
    with pytest.raises(ValueError, match=f"{FRAME_SIZE}"):
        parse_frames(np.zeros((5, 43)), "bad")
    clip = parse_frames(MOTIONS["cartwheel"].source, "cartwheel")
    assert clip.fps == pytest.approx(60.0, rel=1e-3)
    half = resample(clip, 30.0)
    assert half.num_frames == (clip.num_frames - 1) // 2 + 1
    np.testing.assert_allclose(half.root_pos[1], clip.root_pos[2], atol=1e-5)  # dt 0.016666 s
    np.testing.assert_allclose(np.abs((half.rotations[5] * clip.rotations[10]).sum(-1)), 1.0, atol=1e-4)


@pytest.mark.parametrize("name", [n for n, m in MOTIONS.items() if m.loop])
def test_cyclic_clips_loop_without_jumps(name: str, body) -> None:  # type: ignore[no-untyped-def]
    """Where one cycle meets the next, the body's joint acceleration stays within 1.5× of the
    largest inside the original clip (measured ≤ 1.44×; without seam handling walk reached 10×
    its median, 37 vs 3.8 mm/frame²)."""
    motion = MOTIONS[name]
    long = motion.looped(3 * motion.num_frames)
    assert long.num_frames >= 3 * motion.num_frames and long.poses.shape[1:] == (24, 3)

    def accel(m) -> np.ndarray:  # type: ignore[no-untyped-def]
        j = _joints(body, m.poses, m.transl)[0]
        return np.linalg.norm(j[:-2] - 2 * j[1:-1] + j[2:], axis=-1).mean(-1)

    inside, looped = accel(motion), accel(long)
    seams = [k * (motion.num_frames - 1) for k in (1, 2)]
    at_seams = max(looped[s - 2:s + 1].max() for s in seams)
    assert at_seams <= 1.5 * inside.max(), (at_seams, inside.max())
    np.testing.assert_allclose(long.poses[: motion.num_frames - 8], motion.poses[: motion.num_frames - 8])


def test_non_cyclic_clips_are_not_looped() -> None:
    assert MOTIONS["kick"].looped(100).num_frames == MOTIONS["kick"].num_frames
