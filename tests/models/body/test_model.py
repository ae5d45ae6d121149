"""Tests for models/body: our LBS equals smplx; posing behaves as SMPL conventions say."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from stmocap.models.body.model import LBSBody, load_body_model
from stmocap.models.body.smpl_file import BodyModelData
from stmocap.models.body.synthetic import SMPL_JOINT_NAMES
from stmocap.models.rotations import axis_angle_to_matrix

L_ELBOW, L_WRIST = SMPL_JOINT_NAMES.index("left_elbow"), SMPL_JOINT_NAMES.index("left_wrist")
L_KNEE, L_ANKLE = SMPL_JOINT_NAMES.index("left_knee"), SMPL_JOINT_NAMES.index("left_ankle")


def _pose(B: int, seed: int, scale: float = 0.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return axis_angle_to_matrix(torch.randn(B, 24, 3, generator=g, dtype=torch.float64) * scale)


def test_lbs_matches_smplx(smpl_dir: Path) -> None:
    ours = load_body_model(smpl_dir, "lbs", dtype=torch.float64)
    ref = load_body_model(smpl_dir, "smplx", dtype=torch.float64)
    R = _pose(4, 0)
    g = torch.Generator().manual_seed(1)
    betas = torch.randn(4, 10, generator=g, dtype=torch.float64)
    transl = torch.randn(4, 3, generator=g, dtype=torch.float64)
    a, b = ours(R, betas, transl), ref(R, betas, transl)
    assert a.vertices.shape == (4, 6890, 3) and a.joints.shape == (4, 24, 3)
    torch.testing.assert_close(a.vertices, b.vertices, atol=1e-6, rtol=0)
    torch.testing.assert_close(a.joints, b.joints, atol=1e-6, rtol=0)
    # Fewer betas than the model has are padded with zeros by both.
    torch.testing.assert_close(ours(R, betas[:, :3]).vertices, ref(R, betas[:, :3]).vertices,
                               atol=1e-6, rtol=0)


def test_rest_pose_reproduces_template(synthetic_body: BodyModelData) -> None:
    body = LBSBody(synthetic_body, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand(1, 24, 3, 3)
    out = body(eye, torch.zeros(1, 10, dtype=torch.float64))
    np.testing.assert_allclose(out.vertices[0].numpy(), synthetic_body.v_template, atol=1e-12)
    np.testing.assert_allclose(out.joints[0].numpy(),
                               synthetic_body.j_regressor @ synthetic_body.v_template, atol=1e-12)


def test_bones_keep_their_length_under_any_pose(synthetic_body: BodyModelData) -> None:
    body = LBSBody(synthetic_body, dtype=torch.float64)
    betas = torch.zeros(3, 10, dtype=torch.float64)
    rest = body(torch.eye(3, dtype=torch.float64).expand(3, 24, 3, 3), betas).joints
    posed = body(_pose(3, 5, 1.0), betas).joints
    parents = body.parents
    def lengths(j: torch.Tensor) -> torch.Tensor:
        return (j[:, 1:] - j[:, parents[1:]]).norm(dim=-1)

    torch.testing.assert_close(lengths(posed), lengths(rest), atol=1e-12, rtol=0)


@pytest.mark.parametrize("which", ["synthetic_body", "free_body"])
def test_elbow_and_knee_flexion_directions(which: str, request: pytest.FixtureRequest) -> None:
    body = LBSBody(request.getfixturevalue(which), dtype=torch.float64)
    aa = torch.zeros(1, 24, 3, dtype=torch.float64)
    aa[0, L_ELBOW] = torch.tensor([0.0, -math.pi / 2, 0.0])  # left elbow −90° about y
    aa[0, L_KNEE] = torch.tensor([math.pi / 2, 0.0, 0.0])  # left knee +90° about x
    out = body(axis_angle_to_matrix(aa), torch.zeros(1, 10, dtype=torch.float64))
    forearm = out.joints[0, L_WRIST] - out.joints[0, L_ELBOW]
    shin = out.joints[0, L_ANKLE] - out.joints[0, L_KNEE]
    # SMPL frame: y up, body faces +z. The forearm swings forward; the shin swings backward.
    assert forearm[2] > 0.9 * forearm.norm()
    assert shin[2] < -0.85 * shin.norm()


def test_gradients_flow_to_pose_and_shape(synthetic_body: BodyModelData) -> None:
    body = LBSBody(synthetic_body)
    aa = torch.zeros(2, 24, 3, requires_grad=True)
    betas = torch.zeros(2, 10, requires_grad=True)
    out = body(axis_angle_to_matrix(aa + 0.1), betas)
    out.joints.square().sum().backward()
    assert aa.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0


def test_input_checks(synthetic_body: BodyModelData) -> None:
    body = LBSBody(synthetic_body)
    with pytest.raises(ValueError, match="rotmats must be"):
        body(torch.zeros(1, 23, 3, 3), torch.zeros(1, 10))
    with pytest.raises(ValueError, match="betas must be"):
        body(torch.eye(3).expand(1, 24, 3, 3), torch.zeros(1, 11))

