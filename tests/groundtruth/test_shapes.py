"""Random body shapes: reproducible draws, and renders that carry (and are cached by) their shape."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.evaluation.closed_loop import render_cached
from stmocap.groundtruth.motions import load_motions
from stmocap.groundtruth.scene import SceneConfig
from stmocap.groundtruth.shapes import random_betas
from stmocap.models.body.model import load_body_model


@given(seed=st.integers(0, 2**31), sigma=st.floats(0.01, 3.0))
@settings(max_examples=50, deadline=None)
def test_draws_are_reproducible_and_bounded(seed: int, sigma: float) -> None:
    b = random_betas(seed, sigma)
    assert b.shape == (10,) and np.all(np.abs(b) <= 2.5 * sigma + 1e-12)
    np.testing.assert_array_equal(b, random_betas(seed, sigma))
    assert not np.array_equal(b, random_betas(seed + 1, sigma))


def test_zero_sigma_is_the_mean_body_and_negative_is_refused() -> None:
    np.testing.assert_array_equal(random_betas(3, 0.0), np.zeros(10))
    with pytest.raises(ValueError, match="≥ 0"):
        random_betas(3, -0.5)


def test_draws_spread_like_the_population() -> None:
    draws = np.stack([random_betas(s, 1.0) for s in range(400)])
    assert abs(draws.mean()) < 0.05 and 0.9 < draws.std() < 1.05


def test_a_reshaped_body_renders_its_own_clip_and_truth(tmp_path: Path) -> None:
    m = load_motions()["walk"]
    m = replace(m, poses=m.poses[:3], transl=m.transl[:3])
    scene = SceneConfig(width=160, height=120)
    betas = random_betas(0, 1.0)
    mean_video, mean_gt = render_cached(m, scene, tmp_path)
    video, gt_path = render_cached(replace(m, betas=betas), scene, tmp_path)
    assert video != mean_video  # the shape is part of the cache key: no stale mean-body render
    with np.load(gt_path) as gt, np.load(mean_gt) as mean:
        np.testing.assert_allclose(gt["betas"], np.tile(betas, (3, 1)))
        np.testing.assert_array_equal(mean["betas"], np.zeros((3, 10)))
        # the truth is the reshaped body's joints: its bones differ from the mean body's
        body = load_body_model("free")
        with torch.no_grad():
            rest = body(torch.eye(3).repeat(2, 24, 1, 1),
                        torch.from_numpy(np.stack([np.zeros(10), betas])).float()).joints.numpy()
        bones = np.linalg.norm(rest[:, 1:] - rest[:, body.parents[1:]], axis=-1)
        got = np.linalg.norm(gt["joints3d"][0] - gt["joints3d"][0][0], axis=-1)
        ref = np.linalg.norm(mean["joints3d"][0] - mean["joints3d"][0][0], axis=-1)
        assert np.abs(bones[1] - bones[0]).max() > 0.005
        assert np.abs(got - ref).max() > 0.005
    assert render_cached(replace(m, betas=betas), scene, tmp_path)[0] == video  # reused
