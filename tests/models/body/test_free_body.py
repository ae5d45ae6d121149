"""The shipped free body: SMPL's file format and conventions, and poses that mean what SMPL's mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stmocap.models.body.free_body import free_body_path, load_body_data
from stmocap.models.body.model import LBSBody, load_body_model
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.body.synthetic import SMPL_JOINT_NAMES, SMPL_PARENTS
from stmocap.models.rotations import axis_angle_to_matrix

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_file_is_in_smpl_format_and_ships_with_its_notice(free_body: BodyModelData) -> None:
    assert free_body.num_vertices == 13718 and free_body.faces.shape == (27420, 3)
    assert tuple(free_body.parents) == SMPL_PARENTS
    assert free_body.shapedirs.shape == (13718, 3, 10)
    np.testing.assert_allclose(free_body.weights.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(free_body.j_regressor.sum(1), 1.0, atol=1e-4)
    assert not np.any(free_body.posedirs)  # no pose correctives
    notice = (free_body_path().parent / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and "CC0" in notice
    # "free" and None both name it; the LBS skips the (zero) correctives.
    assert load_body_data("free").source == load_body_data(None).source == str(free_body_path())
    assert not load_body_model("free").has_correctives


def test_rest_pose_is_smpl_t_pose(free_body: BodyModelData) -> None:
    joints = free_body.j_regressor @ free_body.v_template
    height = np.ptp(free_body.v_template[:, 1])
    assert 1.6 < height < 1.85
    np.testing.assert_allclose(joints[J["pelvis"]], 0.0, atol=1e-3)
    for side, sign in (("left", 1.0), ("right", -1.0)):  # +x is the body's left
        for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "hand")):
            d = _unit(joints[J[f"{side}_{b}"]] - joints[J[f"{side}_{a}"]])
            assert d @ [sign, 0, 0] > np.cos(np.radians(3)), (side, a, b)
        thigh = _unit(joints[J[f"{side}_knee"]] - joints[J[f"{side}_hip"]])
        assert thigh @ [0, -1, 0] > np.cos(np.radians(10))
        toes = joints[J[f"{side}_foot"]] - joints[J[f"{side}_ankle"]]
        assert toes[2] > 0.05  # feet point forward: the body faces +z
    assert joints[J["head"], 1] > joints[J["neck"], 1] > joints[J["spine3"], 1] > 0


def test_shape_directions_are_unit_scaled_and_first_is_height(free_body: BodyModelData) -> None:
    body = load_body_model("free")
    eye = torch.eye(3).expand(3, 24, 3, 3)
    betas = torch.zeros(3, 10)
    betas[1, 0], betas[2, 0] = 2.0, -2.0
    with torch.no_grad():
        verts = body(eye, betas).vertices
    heights = (verts[..., 1].max(1).values - verts[..., 1].min(1).values).tolist()
    assert heights[2] + 0.1 < heights[0] < heights[1] - 0.1  # ±2σ changes height by > 10 cm
    assert heights[1] < 2.3 and heights[2] > 1.2


def _descendants(j: int) -> list[int]:
    out = [j]
    for k in range(j + 1, 24):
        if SMPL_PARENTS[k] in out:
            out.append(k)
    return out


def _probe_points(body: LBSBody, rotmats: torch.Tensor) -> torch.Tensor:
    """Every joint plus, per joint, its skinned vertex farthest from it (a limb's or leaf's tip)."""
    dominant = body.weights.argmax(1)
    rest_joints = body.j_regressor @ body.v_template
    tips = []
    for j in range(24):
        owned = torch.nonzero(dominant == j)[:, 0]
        tips.append(owned[(body.v_template[owned] - rest_joints[j]).norm(dim=1).argmax()])
    out = body(rotmats, torch.zeros(rotmats.shape[0], 10, dtype=rotmats.dtype))
    return torch.cat([out.joints, out.vertices[:, torch.stack(tips)]], 1)


def test_same_pose_moves_free_and_synthetic_bodies_alike(free_body: BodyModelData,
                                                         synthetic_body: BodyModelData) -> None:
    """For every joint and each swing axis (the two axes across its bone), rotating by +0.5 rad moves
    the joint's descendants the same way on both bodies: cosine ≥ 0.5 between displacements (a
    swapped axis gives ≈ 0, a flipped sign ≈ −1; hands and feet differ in shape, measured ≥ 0.58)."""
    bodies = [LBSBody(free_body, torch.float64), LBSBody(synthetic_body, torch.float64)]
    eye = torch.eye(3, dtype=torch.float64).repeat(1, 24, 1, 1)
    rest = [_probe_points(b, eye) for b in bodies]
    rest_syn = rest[1][0].numpy()
    worst = []
    for j in range(1, 24):
        sub = _descendants(j)
        idx = [d for d in sub if d != j] + [24 + d for d in sub]
        children = [d for d in sub if SMPL_PARENTS[d] == j]
        tip = rest_syn[children[0]] if children else rest_syn[24 + j]
        twist = int(np.abs(tip - rest_syn[j]).argmax())  # the axis along the bone: skip
        for axis in {0, 1, 2} - {twist}:
            aa = torch.zeros(1, 24, 3, dtype=torch.float64)
            aa[0, j, axis] = 0.5
            rot = axis_angle_to_matrix(aa)
            d = [(_probe_points(b, rot) - r)[0, idx].flatten() for b, r in zip(bodies, rest, strict=True)]
            cos = float(d[0] @ d[1] / (d[0].norm() * d[1].norm()))
            worst.append((cos, SMPL_JOINT_NAMES[j], "xyz"[axis]))
    assert len(worst) == 2 * 23
    assert min(worst)[0] >= 0.5, sorted(worst)[:3]


@pytest.mark.parametrize("bad", ["missing.npz", "notes.txt"])
def test_bad_paths_are_clear_errors(tmp_path, bad: str) -> None:  # type: ignore[no-untyped-def]
    from stmocap.models.body.smpl_file import BodyModelError

    path = tmp_path / bad
    if bad.endswith(".txt"):
        path.write_text("not a model")
    with pytest.raises(BodyModelError):
        load_body_data(path)
