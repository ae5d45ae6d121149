"""Property tests for models/rotations.py: round trips, orthonormality, determinant +1."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from stmocap.models import rotations as rot

finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False, width=64)
# |aa| < π keeps axis-angle unique (angles wrap at 2π and the axis flips at π): √3·1.8 < π.
vec3 = arrays(np.float64, (5, 3), elements=st.floats(-1.8, 1.8, width=64))
vec4 = arrays(np.float64, (5, 4), elements=finite)
vec6 = arrays(np.float64, (5, 6), elements=finite)
mat3 = arrays(np.float64, (5, 3, 3), elements=finite)


def _random_rotations(seed: int, n: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, 4, generator=g, dtype=torch.float64)
    return rot.quaternion_to_matrix(q)


def _assert_rotation(R: torch.Tensor, atol: float = 1e-9) -> None:
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye, atol=atol, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=R.dtype))


@given(vec3)
def test_axis_angle_matrix_round_trip(aa_np: np.ndarray) -> None:
    aa = torch.from_numpy(aa_np)
    R = rot.axis_angle_to_matrix(aa)
    _assert_rotation(R)
    torch.testing.assert_close(rot.matrix_to_axis_angle(R), aa, atol=1e-7, rtol=0)


@given(vec4)
def test_quaternion_matrix_round_trip(q_np: np.ndarray) -> None:
    q = torch.from_numpy(q_np)
    assume(bool((q.norm(dim=-1) > 1e-3).all()))
    R = rot.quaternion_to_matrix(q)
    _assert_rotation(R)
    q_unit = rot.standardize_quaternion(q / q.norm(dim=-1, keepdim=True))
    q_back = rot.matrix_to_quaternion(R)
    # At w == 0 both signs are valid representatives; compare up to sign.
    err = torch.minimum((q_back - q_unit).abs().amax(-1), (q_back + q_unit).abs().amax(-1))
    assert float(err.max()) < 1e-7
    assert bool((q_back[..., 0] >= 0).all())


@settings(suppress_health_check=[HealthCheck.filter_too_much])  # degenerate pairs are rare but
@given(vec6)  # five of them per example can exceed hypothesis's default filter budget
def test_6d_decodes_to_rotation_and_round_trips(d6_np: np.ndarray) -> None:
    d6 = torch.from_numpy(d6_np)
    a1, a2 = d6[..., :3], d6[..., 3:]
    # Gram–Schmidt needs two well-conditioned, independent columns.
    assume(bool((a1.norm(dim=-1) > 1e-2).all()))
    assume(bool((torch.linalg.cross(a1, a2).norm(dim=-1) > 1e-2 * a2.norm(dim=-1)).all()))
    assume(bool((a2.norm(dim=-1) > 1e-2).all()))
    R = rot.rotation_6d_to_matrix(d6)
    _assert_rotation(R)
    torch.testing.assert_close(rot.rotation_6d_to_matrix(rot.matrix_to_rotation_6d(R)), R)
    # The first column keeps the direction of the first 6D half.
    torch.testing.assert_close(R[..., :, 0], a1 / a1.norm(dim=-1, keepdim=True))


@given(st.integers(0, 2**31 - 1))
def test_all_representations_agree(seed: int) -> None:
    R = _random_rotations(seed)
    aa = rot.matrix_to_axis_angle(R)
    torch.testing.assert_close(rot.axis_angle_to_matrix(aa), R, atol=1e-9, rtol=0)
    q = rot.axis_angle_to_quaternion(aa)
    torch.testing.assert_close(rot.quaternion_to_matrix(q), R, atol=1e-9, rtol=0)
    torch.testing.assert_close(rot.quaternion_to_axis_angle(q), aa, atol=1e-9, rtol=0)
    torch.testing.assert_close(rot.rotation_6d_to_axis_angle(rot.axis_angle_to_rotation_6d(aa)), aa)


@given(mat3)
def test_projection_gives_proper_rotation(m_np: np.ndarray) -> None:
    # Any matrix, singular ones included: U and V of the SVD are orthonormal either way.
    M = torch.from_numpy(m_np)
    R = rot.project_to_so3(M)
    _assert_rotation(R, atol=1e-8)
    # Projection is idempotent and leaves rotations unchanged.
    torch.testing.assert_close(rot.project_to_so3(R), R, atol=1e-8, rtol=0)


def test_projection_of_reflection_is_not_a_reflection() -> None:
    M = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
    R = rot.project_to_so3(M)
    assert torch.linalg.det(R).item() > 0


def test_projection_is_nearest_rotation_to_noisy_rotation() -> None:
    R = _random_rotations(3, n=50)
    noisy = R + 1e-3 * torch.randn(R.shape, generator=torch.Generator().manual_seed(0),
                                   dtype=R.dtype)
    angle = rot.geodesic_angle(rot.project_to_so3(noisy), R)
    assert float(angle.max()) < 5e-3


def test_known_values() -> None:
    aa = torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64)
    R = rot.axis_angle_to_matrix(aa)
    expected = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
                            dtype=torch.float64)
    torch.testing.assert_close(R, expected, atol=1e-12, rtol=0)
    # 180° about x: the quaternion branch must stay accurate where w = 0.
    R180 = rot.axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(rot.matrix_to_axis_angle(R180).abs(),
                               torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    assert rot.geodesic_angle(R, R).item() == 0.0


def test_gradients_finite_at_identity() -> None:
    aa = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    rot.axis_angle_to_matrix(aa).sum().backward()
    assert torch.isfinite(aa.grad).all()
    R = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1).requires_grad_(True)
    rot.matrix_to_axis_angle(R).sum().backward()
    assert torch.isfinite(R.grad).all()


@given(st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_geodesic_interpolation_moves_its_share_of_the_angle(seed: int, w: float) -> None:
    R0, R1 = _random_rotations(seed), _random_rotations(seed + 1)
    Rw = rot.geodesic_interpolate(R0, R1, w)
    _assert_rotation(Rw)
    total = rot.geodesic_angle(R0, R1)
    assume(bool((total < math.pi - 1e-3).all()))  # the geodesic is unique below π
    torch.testing.assert_close(rot.geodesic_angle(R0, Rw), w * total, atol=1e-7, rtol=0)
    torch.testing.assert_close(rot.geodesic_angle(Rw, R1), (1 - w) * total, atol=1e-7, rtol=0)
    torch.testing.assert_close(rot.geodesic_interpolate(R0, R1, 0.0), R0, atol=1e-9, rtol=0)
    torch.testing.assert_close(rot.geodesic_interpolate(R0, R1, 1.0), R1, atol=1e-7, rtol=0)
