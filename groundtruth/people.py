"""A rendered clip with two people for the multi-person tests and benchmarks: two walkers crossing
the frame in opposite directions at different depths (the nearer one passes in front of the other),
made on first use and cached like the demo clip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from stmocap.groundtruth.scene import Placement, SceneConfig, render_digest

from stmocap.cache import cache_root

CROSSING: tuple[tuple[str, Placement], ...] = (
    ("walk", Placement(heading=90.0, x=-1.0, z=-0.4)),  # far, walking to the camera's right
    ("walk", Placement(heading=-90.0, x=1.0, z=0.4)),  # near, walking to the left
)
"""(clip, placement) per person; the camera looks along −z (``azimuth`` 0)."""


def crossing_scene(width: int = 320, height: int = 240) -> SceneConfig:
    """The crossing clip's camera: fixed, in front of the walkers, 3.5 m from their mean pelvis
    (at 320×240 they are ≈ 120 and 150 px tall; BlazePose's detector scored a side-view walker
    80 px tall 0.13–0.26, under its 0.5 threshold, so the far one must not be smaller)."""
    return SceneConfig(width=width, height=height, azimuth=0.0, elevation=6.0, distance=3.5,
                       follow=0, light_jitter=0.2, seed=7)


def crossing_clip(frames: int = 60, width: int = 320, height: int = 240, cache: Path | None = None
                  ) -> tuple[Path, Path]:
    """The two-walker video and its ground truth (:func:`~stmocap.groundtruth.scene.write_people_clip`:
    arrays ``(T, 2, …)``, person 0 far, person 1 near), rendering them if they are not cached."""
    from stmocap.groundtruth.motions import load_motions, motions_path
    from stmocap.models.body.free_body import free_body_path

    cfg = crossing_scene(width, height)
    digest = render_digest(free_body_path(), motions_path().read_bytes(),
                           repr((CROSSING, frames, cfg)).encode())
    video = (cache or cache_root()) / "people" / f"crossing-{digest}.avi"
    if video.is_file() and video.with_suffix(".npz").is_file():
        return video, video.with_suffix(".npz")
    import torch
    from stmocap.groundtruth.scene import place_motion, write_people_clip
    from stmocap.models.body.model import load_body_model

    body = load_body_model("free")
    motions = load_motions()
    placed = []
    for name, placement in CROSSING:
        m = motions[name].looped(frames)
        m = replace(m, poses=m.poses[:frames], transl=m.transl[:frames])
        with torch.no_grad():
            rest = body(torch.eye(3).repeat(1, 24, 1, 1), torch.from_numpy(m.betas[None]).float(),
                        torch.zeros(1, 3)).joints[0, 0].double().numpy()
        placed.append(place_motion(m, placement, np.asarray(rest)))
    return write_people_clip(placed, body, video, cfg)
