"""Shot cuts (realtime/cuts.py) on real rendered video, and through the lite profile's stages."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stmocap.groundtruth.motions import load_motions
from stmocap.groundtruth.scene import SceneConfig, write_sequence
from stmocap.models.body.model import load_body_model
from stmocap.realtime.cuts import CutDetector, colour_histogram, histogram_change
from stmocap.realtime.sources import SourceConfig, open_source

SMALL = SceneConfig(width=160, height=120)


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """12 frames of walk, then 10 of punch filmed from elsewhere (another scene seed: room,
    clothes, light): a cut at frame 12."""
    motions = load_motions()
    shots = [(motions["walk"].looped(12), replace(SMALL, seed=0, azimuth=20)),
             (motions["punch"].looped(10), replace(SMALL, seed=3, azimuth=-30))]
    shots = [(replace(m, poses=m.poses[:k], transl=m.transl[:k]), c)
             for (m, c), k in zip(shots, (12, 10), strict=True)]
    video, _ = write_sequence(shots, load_body_model("free"), tmp_path_factory.mktemp("cut") / "two.avi")
    with open_source(SourceConfig(source=str(video))) as src:  # RGB, as the stages get them
        frames = [f.image for f in src]
    assert len(frames) == 22
    return video, frames


def test_the_cut_of_a_rendered_two_shot_video_is_found_and_nothing_else(two_shots) -> None:  # type: ignore[no-untyped-def]
    _, frames = two_shots
    detect = CutDetector(0.15)
    assert [i for i, f in enumerate(frames) if detect(f)] == [12]
    changes = [histogram_change(colour_histogram(a), colour_histogram(b))
               for a, b in pairwise(frames)]
    assert max(changes[:11] + changes[12:]) < 0.06 < 0.15 < 0.2 < changes[11]  # margins both sides
    off = CutDetector(0.0)
    assert not any(off(f) for f in frames)


def test_the_lite_stages_mark_the_cut_and_start_the_person_afresh(two_shots) -> None:  # type: ignore[no-untyped-def]
    """Through the real detect and per-frame stages (BlazePose, IK): the estimates of frame 12 say
    ``cut``; with the threshold at 0 none does."""
    from stmocap.evaluation.closed_loop import per_frame_estimates
    from stmocap.realtime.pipeline import PerFrameConfig, PipelineConfig

    video, _ = two_shots
    on, _ = per_frame_estimates(video, PipelineConfig())
    off, _ = per_frame_estimates(video, PipelineConfig(perframe=PerFrameConfig(cut_threshold=0.0)))
    assert [m.seq for m in on if m.meta.get("cut")] == [12]
    assert not any(m.meta.get("cut") for m in off)
    assert [m.seq for m in on] == [m.seq for m in off] == list(range(22))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(8, 90), st.integers(8, 90))
def test_histograms_are_distributions_and_their_change_a_distance(seed: int, h: int, w: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) // 2
    ha, hb = colour_histogram(a), colour_histogram(b)
    assert ha.shape == (512,) and np.isclose(ha.sum(), 1) and (ha >= 0).all()
    assert histogram_change(ha, ha) == 0
    assert np.isclose(histogram_change(ha, hb), histogram_change(hb, ha))
    assert 0 <= histogram_change(ha, hb) <= 1
    # Soft bins: one level brighter moves even a flat image's histogram only a little.
    flat = np.full((h, w, 3), int(rng.integers(0, 255)), np.uint8)
    for img in (a, flat):
        brighter = np.minimum(img.astype(np.int32) + 1, 255).astype(np.uint8)
        assert histogram_change(colour_histogram(img), colour_histogram(brighter)) < 0.1  # hard bins: up to 1
    black, white = np.zeros((h, w, 3), np.uint8), np.full((h, w, 3), 255, np.uint8)
    assert histogram_change(colour_histogram(black), colour_histogram(white)) == 1


def test_bad_thresholds_and_images_are_refused() -> None:
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="cut threshold"):
            CutDetector(bad)
    with pytest.raises(ValueError, match="uint8"):
        colour_histogram(np.zeros((10, 10), np.uint8))


def test_with_several_people_a_cut_gives_whoever_is_found_again_a_new_id(two_shots) -> None:  # type: ignore[no-untyped-def]
    from stmocap.evaluation.closed_loop import per_frame_estimates
    from stmocap.realtime.pipeline import PerFrameConfig, PipelineConfig

    video, _ = two_shots
    out, _ = per_frame_estimates(video, PipelineConfig(perframe=PerFrameConfig(max_people=2)))
    assert [m.seq for m in out if m.meta.get("cut")] == [12]
    before = {int(t) for m in out[:12] for t in m.arrays["track_ids"]}
    after = {int(t) for m in out[12:] for t in m.arrays["track_ids"]}
    assert before and after and not before & after
