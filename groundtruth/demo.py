"""``--source demo``: a rendered motion-capture clip (free body, DeepMimic motions), made on first
use and cached, so the main command shows real motion on a machine without a webcam."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from stmocap.groundtruth.scene import SceneConfig, render_digest

from stmocap.cache import cache_root

DEMO_SHOTS: tuple[tuple[str, int, float], ...] = (
    ("walk", 75, 25.0), ("punch", 0, -20.0), ("dance_a", 0, 30.0), ("kick", 0, -30.0))
"""(clip, minimum frames — cyclic clips are repeated, camera azimuth in degrees)."""


def demo_paths(cache: Path | None = None) -> tuple[Path, Path]:
    """Where the demo video and its ground truth are cached (the name changes with its inputs)."""
    from stmocap.groundtruth.motions import motions_path
    from stmocap.models.body.free_body import free_body_path

    digest = render_digest(free_body_path(), motions_path().read_bytes(),
                           repr((DEMO_SHOTS, SceneConfig())).encode())
    video = (cache or cache_root()) / "demo" / f"demo-{digest}.avi"
    return video, video.with_suffix(".npz")


def demo_clip(cache: Path | None = None, progress: bool = True) -> tuple[Path, Path]:
    """The demo video and its ground truth, rendering them first if they are not cached
    (238 frames, 640×480, 30 fps; ≈ 40 ms a frame on one laptop core)."""
    video, gt = demo_paths(cache)
    if video.is_file() and gt.is_file():
        return video, gt
    from stmocap.groundtruth.motions import load_motions
    from stmocap.groundtruth.scene import write_sequence
    from stmocap.models.body.model import load_body_model

    motions = load_motions()
    shots = [(motions[name].looped(frames), replace(SceneConfig(), azimuth=azimuth, seed=k))
             for k, (name, frames, azimuth) in enumerate(DEMO_SHOTS)]
    return write_sequence(shots, load_body_model("free"), video, progress=progress)
