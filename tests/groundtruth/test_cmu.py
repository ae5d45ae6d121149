"""CMU BVH → SMPL retargeting on a known skeleton, and the shipped CMU clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stmocap.groundtruth.bvh import parse_bvh
from stmocap.groundtruth.cmu import bone_angles, despike, retarget
from stmocap.groundtruth.motions import load_motion, load_motions, select_clips
from stmocap.models.body.model import load_body_model
from stmocap.models.rotations import axis_angle_to_matrix
from stmocap.training.kinematics import JointModel

# A CMU-named skeleton laid out on the free body's rest joints: (name, parent, SMPL joint it sits
# on). Zero-length links (LHipJoint, Neck, LeftFingerBase, …) sit on their parent's joint, as in
# CMU's files.
LAYOUT = (
    ("Hips", None, 0), ("LHipJoint", "Hips", 0), ("LeftUpLeg", "LHipJoint", 1),
    ("LeftLeg", "LeftUpLeg", 4), ("LeftFoot", "LeftLeg", 7), ("LeftToeBase", "LeftFoot", 10),
    ("RHipJoint", "Hips", 0), ("RightUpLeg", "RHipJoint", 2), ("RightLeg", "RightUpLeg", 5),
    ("RightFoot", "RightLeg", 8), ("RightToeBase", "RightFoot", 11),
    ("LowerBack", "Hips", 3), ("Spine", "LowerBack", 6), ("Spine1", "Spine", 9),
    ("Neck", "Spine1", 9), ("Neck1", "Neck", 12), ("Head", "Neck1", 15),
    ("LeftShoulder", "Spine1", 13), ("LeftArm", "LeftShoulder", 16), ("LeftForeArm", "LeftArm", 18),
    ("LeftHand", "LeftForeArm", 20), ("LeftFingerBase", "LeftHand", 20),
    ("LFingers", "LeftFingerBase", 22),
    ("RightShoulder", "Spine1", 14), ("RightArm", "RightShoulder", 17),
    ("RightForeArm", "RightArm", 19), ("RightHand", "RightForeArm", 21),
    ("RightFingerBase", "RightHand", 21), ("RFingers", "RightFingerBase", 23),
)
# Links whose own rotation SMPL has no joint for: held still in the synthetic take (CMU's files
# keep LHipJoint/RHipJoint at zero too).
STILL = ("LHipJoint", "RHipJoint", "Neck")


@pytest.fixture(scope="module")
def joint_model() -> JointModel:
    return JointModel(load_body_model("free", dtype=torch.float64))


def _joints_of(jm: JointModel):  # type: ignore[no-untyped-def]
    def joints_of(rot: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            r = torch.from_numpy(rot)
            return jm(r, torch.zeros(len(r), 10, dtype=torch.float64)).numpy()
    return joints_of


def _bvh_text(rest: np.ndarray, angles: np.ndarray, root: np.ndarray, frame_time: float) -> str:
    """A BVH of :data:`LAYOUT` on ``rest (24, 3)`` with ``angles (T, J, 3)`` (Z, Y, X degrees)
    and ``root (T, 3)`` positions."""
    children: dict[str | None, list[int]] = {}
    for k, (_, parent, _) in enumerate(LAYOUT):
        children.setdefault(parent, []).append(k)
    lines = ["HIERARCHY"]

    def joint(k: int, depth: int) -> None:
        name, parent, at = LAYOUT[k]
        pad = "  " * depth
        off = rest[at] - (rest[LAYOUT[[n for n, *_ in LAYOUT].index(parent)][2]] if parent else rest[at])
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {off[0]:.9f} {off[1]:.9f} {off[2]:.9f}")
        pos = "Xposition Yposition Zposition " if parent is None else ""
        lines.append(f"{pad}  CHANNELS {6 if parent is None else 3} {pos}Zrotation Yrotation Xrotation")
        kids = children.get(name, [])
        for c in kids:
            joint(c, depth + 1)
        if not kids:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0 0.05", pad + "  }"])
        lines.append(pad + "}")

    joint(0, 0)
    lines += ["MOTION", f"Frames: {len(angles)}", f"Frame Time: {frame_time:.12f}"]
    for t in range(len(angles)):
        vals = np.concatenate([root[t], angles[t].ravel()])
        lines.append(" ".join(f"{v:.9f}" for v in vals))
    return "\n".join(lines) + "\n"


def test_retargeting_reproduces_the_bvh_joints(joint_model: JointModel) -> None:
    """A take on a CMU-named skeleton with the free body's proportions and random rotations
    (±35° per axis, any heading): after dropping the T-pose frame and resampling 120 → 30 fps, every
    SMPL joint lands on its CMU joint within 1e-6 m and every mapped bone points the same way."""
    rng = np.random.default_rng(0)
    T, J = 14, len(LAYOUT)
    angles = rng.uniform(-35, 35, (T, J, 3))
    angles[:, 0, 1] = rng.uniform(-180, 180, T)  # root heading (Yrotation)
    for name in STILL:
        angles[:, [n for n, *_ in LAYOUT].index(name)] = 0.0
    root = rng.normal(0, 0.5, (T, 3)) + np.array([0.0, 1.0, 0.0])
    rest = joint_model.j_template.numpy()
    take = parse_bvh(_bvh_text(rest, angles, root, 1 / 120))
    r = retarget(take, rest, _joints_of(joint_model), fps=30.0, unit=1.0, despike_deg=None)
    assert r.poses.shape == (4, 24, 3) and r.transl.shape == (4, 3) and r.fps == 30.0
    smpl = _joints_of(joint_model)(axis_angle_to_matrix(torch.from_numpy(r.poses)).numpy())
    smpl = smpl + r.transl[:, None]
    names = [n for n, *_ in LAYOUT]
    for name, _, at in LAYOUT:
        np.testing.assert_allclose(smpl[:, at], r.cmu_joints[:, names.index(name)], atol=1e-6,
                                   err_msg=name)
    assert bone_angles(smpl, r.cmu_joints, take.skeleton).max() < 1e-4
    # Resampling: output frame k is source frame 1 + 4k (the T-pose frame 0 is dropped).
    np.testing.assert_allclose(r.cmu_joints[:, 0], root[1::4], atol=1e-9)


def test_despike_removes_a_two_frame_glitch() -> None:
    """A joint turning 150° and back within two frames is replaced; smooth motion is kept."""
    T = 30
    t = np.linspace(0, 1, T)
    aa = np.zeros((T, 2, 3))
    aa[:, 0, 2] = np.radians(60) * t  # a steady 2°/frame turn
    aa[:, 1, 0] = np.radians(20) * np.sin(6 * t)
    clean = axis_angle_to_matrix(torch.from_numpy(aa)).numpy()
    noisy = clean.copy()
    spike = axis_angle_to_matrix(torch.tensor([0.0, np.radians(150), 0.0], dtype=torch.float64)).numpy()
    noisy[14:16, 1] = spike @ noisy[14:16, 1]
    fixed, replaced = despike(noisy)
    assert replaced == 2
    np.testing.assert_allclose(fixed[:14], clean[:14], atol=1e-9)
    np.testing.assert_allclose(fixed[16:], clean[16:], atol=1e-9)
    err = np.einsum("tij,tij->t", fixed[14:16, 1], clean[14:16, 1])  # trace(Aᵀ B) = 1 + 2 cos θ
    assert np.degrees(np.arccos(np.clip((err - 1) / 2, -1, 1))).max() < 5.0


CMU = load_motions(groups=("cmu",))


def test_cmu_clips_ship_and_are_opt_in() -> None:
    assert list(CMU) == ["cmu_01_01_a", "cmu_01_01_b", "cmu_01_01_c", "cmu_01_03_a", "cmu_01_03_b",
                         "cmu_01_03_c", "cmu_01_03_d", "cmu_01_03_e"]
    everything = load_motions()
    assert set(CMU) <= set(everything) and len(everything) == 15 + len(CMU)
    assert list(everything)[:15] == list(load_motions(groups=("deepmimic",)))  # seeds unchanged
    assert select_clips("all", everything) == list(everything)[:15]
    assert select_clips("cmu", everything) == list(CMU)
    assert select_clips("walk, cmu_01_01_b,all", everything)[:2] == ["walk", "cmu_01_01_b"]
    with pytest.raises(ValueError, match="unknown clip"):
        select_clips("cmu_99_01_a", everything)
    m = load_motion("cmu_01_03_c")
    assert m.name == "cmu_01_03_c" and m.source is None and not m.loop


@pytest.mark.parametrize("name", sorted(CMU))
def test_cmu_clip_is_sane(name: str) -> None:
    """30 fps, 6–12 s, starts facing +z above the origin, the feet reach the floor (measured: the
    lowest vertex dips ≤ 6 cm below it in a few frames, and 40–80 % of the frames stand within
    2 cm of it), no flips (largest joint turn between frames measured 60°, at a toe)."""
    m = CMU[name]
    assert m.fps == 30.0 and 180 <= m.num_frames <= 360
    assert m.poses.shape == (m.num_frames, 24, 3) and m.transl.shape == (m.num_frames, 3)
    assert m.betas.shape == (10,)
    R = axis_angle_to_matrix(torch.from_numpy(m.poses)).numpy()
    np.testing.assert_allclose(R[0, 0][[0, 2], 2], [0.0, R[0, 0][2, 2]], atol=1e-5)
    assert R[0, 0][2, 2] > 0.8  # forward is +z, mostly level
    np.testing.assert_allclose(m.transl[0, [0, 2]], 0.0, atol=1e-5)
    step = np.einsum("tjik,tjik->tj", R[:-1], R[1:])  # trace(R_tᵀ R_t+1)
    assert np.degrees(np.arccos(np.clip((step - 1) / 2, -1, 1))).max() < 75.0
    body = load_body_model("free")
    with torch.no_grad():
        low = body(torch.from_numpy(R).float(), torch.zeros(len(R), 10),
                   torch.from_numpy(m.transl).float()).vertices[..., 1].amin(-1).numpy()
    assert -0.07 < low.min() < 0.0
    assert (np.abs(low) < 0.02).mean() > 0.3
