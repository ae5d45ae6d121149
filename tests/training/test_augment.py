"""Left-right mirroring of training tables: inputs and truth stay consistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from stmocap.models.rotations import rotation_6d_to_matrix
from stmocap.training.augment import BLAZEPOSE_MIRROR, SMPL_MIRROR, mirror_features, mirror_table
from stmocap.training.data import read_table

from .helpers import joint_model, write_feature_db


def test_mirror_orders_are_involutions_that_swap_left_and_right() -> None:
    for order in (SMPL_MIRROR, BLAZEPOSE_MIRROR):
        assert sorted(order) == list(range(len(order)))
        assert all(order[order[i]] == i for i in range(len(order)))
    assert (SMPL_MIRROR[1], SMPL_MIRROR[20], SMPL_MIRROR[15]) == (2, 21, 15)  # hips, wrists, head
    assert (BLAZEPOSE_MIRROR[15], BLAZEPOSE_MIRROR[0], BLAZEPOSE_MIRROR[2]) == (16, 0, 5)


def test_mirroring_twice_is_the_identity_and_truth_stays_consistent(tmp_path: Path) -> None:
    table = read_table(write_feature_db(tmp_path / "t.npz", videos=2, frames=20))
    table = type(table)(**{**table.__dict__, "features": np.random.default_rng(0).normal(
        size=(len(table), 231)).astype(np.float32)})
    once = mirror_table(table)
    twice = mirror_table(once)
    for name in ("features", "init_pose_6d", "init_cam", "pose_6d", "joints3d", "joints2d"):
        np.testing.assert_allclose(getattr(twice, name), getattr(table, name), atol=1e-5, err_msg=name)
    assert once.vid_name[0].endswith("|mirrored") and len(once.videos()) == 2
    # The left wrist landmark (15) of the mirror is the right one (16) of the original, x negated.
    img, img_m = table.features[:, :132].reshape(-1, 33, 4), once.features[:, :132].reshape(-1, 33, 4)
    np.testing.assert_allclose(img_m[:, 15], img[:, 16] * np.array([-1, 1, 1, 1]), atol=1e-6)
    world, world_m = table.features[:, 132:].reshape(-1, 33, 3), once.features[:, 132:].reshape(-1, 33, 3)
    np.testing.assert_allclose(world_m[:, 15], world[:, 16] * np.array([-1, 1, 1]), atol=1e-6)
    # The mirrored truth pose, posed by the body model, gives the mirrored truth joints.
    jm = joint_model()
    with torch.no_grad():
        posed = jm(rotation_6d_to_matrix(torch.from_numpy(once.pose_6d)), torch.from_numpy(once.betas))
    gap = float((posed - torch.from_numpy(once.joints3d)).norm(dim=-1).max())
    assert gap < 0.006  # the body model is left-right symmetric to 2.5 mm
    np.testing.assert_allclose(once.joints3d[:, 1], table.joints3d[:, 2] * np.array([-1, 1, 1]), atol=1e-6)


def test_mirror_features_flip_the_image_x_only() -> None:
    f = np.zeros((1, 231), np.float32)
    f[0, 0:4] = [0.25, -0.5, 0.1, 0.9]  # nose: stays the nose
    out = mirror_features(f)
    np.testing.assert_allclose(out[0, 0:4], [-0.25, -0.5, 0.1, 0.9])


def test_the_landmark_embedding_is_swapped_with_its_mirrored_copy(tmp_path: Path) -> None:
    """H wider than the 231 landmark values (``--landmark-embedding``): the mirrored table takes
    the file's ``embedding_mirrored`` column as its tail, and carries the original tail as its own
    mirrored copy, so mirroring twice is the identity and a concatenation keeps the column."""
    import pytest
    from stmocap.training.data import concat_tables

    g = np.random.default_rng(1)
    path = write_feature_db(tmp_path / "t.npz", videos=2, frames=20)
    with np.load(path) as f:
        cols = dict(f)
    n = len(cols["vid_name"])
    landmarks = g.normal(size=(n, 231)).astype(np.float32)
    tail, tail_m = g.uniform(0, 6, size=(2, n, 1152)).astype(np.float32)
    np.savez(path, **{**cols, "features": np.concatenate([landmarks, tail], 1),
                      "embedding_mirrored": tail_m})
    table = read_table(path)
    assert table.features.shape == (n, 1383) and table.mirrored_tail.shape == (n, 1152)
    once = mirror_table(table)
    np.testing.assert_allclose(once.features[:, :231], mirror_features(landmarks), atol=1e-6)
    np.testing.assert_array_equal(once.features[:, 231:], tail_m)
    np.testing.assert_array_equal(once.mirrored_tail, tail)
    twice = mirror_table(once)
    np.testing.assert_allclose(twice.features, table.features, atol=1e-6)
    both = concat_tables([table, once])
    assert both.mirrored_tail.shape == (2 * n, 1152)
    np.testing.assert_array_equal(both.mirrored_tail[n:], tail)
    # without the mirrored copy, a wide H cannot be mirrored: said, not guessed
    np.savez(path, **{**cols, "features": np.concatenate([landmarks, tail], 1)})
    with pytest.raises(ValueError, match="embedding_mirrored"):
        mirror_table(read_table(path))
