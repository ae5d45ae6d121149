"""The overlay from the stream's preview topic (``stmocap run --preview``): real runs, sockets, files.

Tolerance (docs/benchmarks.md, viewer): drawn from 160×120 JPEGs (quality 90) of a 320×240 video
and shown at 320×240, the overlay differs from the one drawn on the video file's own frames by at
most :data:`MEAN_TOLERANCE` grey levels on average (JPEG loss, half the resolution, the mesh
rasterised at the preview's size), and their mesh silhouettes overlap with an IoU of at least
:data:`IOU_TOLERANCE` (the edges of a half-resolution rasterisation). Measured when written
(2026-12-01): 3.3 grey levels on average (at most 3.4) and IoU 0.92 (at least 0.91) over 20
matched frames; the same meshes on the neighbouring frame differ by more than twice the tolerance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from stmocap.realtime.messages import decode
from stmocap.viewer.overlay import OverlayPanel, PreviewFrames, VideoFrames
from stmocap.viewer.stream import StreamState

from tests.realtime.helpers import make_estimates, save_estimates
from tests.realtime.test_preview import Collector, _endpoint, run_replay

MEAN_TOLERANCE = 6.0
IOU_TOLERANCE = 0.85
FRAMES = 24


def textured_video(path: Path, frames: int, size: tuple[int, int] = (320, 240)) -> Path:
    """An MJPG video of a smooth colour texture sliding 6 px a frame (each frame its own image)."""
    w, h = size
    rng = np.random.default_rng(3)
    big = cv2.resize(rng.integers(0, 255, (h // 24, (w + 6 * frames) // 24, 3), np.uint8),
                     (w + 6 * frames, h), interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    for i in range(frames):
        writer.write(np.ascontiguousarray(big[:, 6 * i:6 * i + w]))
    writer.release()
    return path


def _mesh_mask(panel: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """Pixels the mesh covers: track 0's orange pulls blue down and red up against the frame."""
    d = panel.astype(int) - plain.astype(int)
    return (d[..., 0] - d[..., 2]) > 40


def test_overlay_from_the_preview_matches_the_overlay_from_the_video(tmp_path: Path) -> None:
    video = textured_video(tmp_path / "clip.avi", FRAMES)
    estimates = save_estimates(tmp_path / "est.npz", make_estimates(FRAMES))
    ep = _endpoint()
    client = Collector(ep, ("pose", "mesh", "preview"))
    run = run_replay(video, estimates, ep, "--preview", "--preview-width", "160",
                     "--preview-quality", "90", "--preview-fps", "0")
    assert run.returncode == 0, run.stderr
    client.join()
    state = StreamState(stale_s=1e9)
    files, previews = VideoFrames(video), PreviewFrames(state)
    from_file, from_preview = OverlayPanel(files, (240, 320)), OverlayPanel(previews, (240, 320))
    compared = []
    for topic, frames, _ in client.raw:  # the viewer's state, message after message, as it came
        msg = decode(frames)
        state.apply(topic, msg)
        if msg.kind != "mesh":
            continue
        a, b = from_file.update(state), from_preview.update(state)
        if from_preview.index != msg.frame_index:
            continue  # no preview of this frame (skipped or not arrived): the last panel stays
        assert from_file.index == msg.frame_index
        plain = files.frame(msg.frame_index).image  # the frame without meshes
        mask_a, mask_b = _mesh_mask(a, plain), _mesh_mask(b, plain)
        iou = (mask_a & mask_b).sum() / max((mask_a | mask_b).sum(), 1)
        compared.append((msg.frame_index, np.abs(a.astype(int) - b).mean(), iou, mask_a.sum()))
    assert len(compared) >= FRAMES // 3, compared
    for index, mean, iou, painted in compared:
        assert painted > 1000, (index, painted)  # the body is on the image, a good part of it
        assert mean < MEAN_TOLERANCE and iou > IOU_TOLERANCE, (index, mean, iou)
    # Matched by frame_index: the same meshes on the next frame's image (6 px of texture away)
    # differ by more than the tolerance.
    index = compared[0][0]
    wrong = files.frame(index + 1).image.astype(int) - files.frame(index).image
    assert np.abs(wrong).mean() > 2 * MEAN_TOLERANCE
    files.close()


def test_view_records_the_overlay_from_the_preview_topic(xdisplay: str, tmp_path: Path) -> None:
    """``stmocap view --record --overlay preview`` against ``stmocap run --preview``: the right half
    of the MP4 is the camera image with the mesh over it."""
    import av

    video = textured_video(tmp_path / "clip.avi", FRAMES)
    estimates = save_estimates(tmp_path / "est.npz", make_estimates(FRAMES))
    ep = _endpoint()
    out = tmp_path / "fit.mp4"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # it starts its own Xvfb
    view = subprocess.Popen([sys.executable, "-m", "stmocap", "view", ep, "--record", str(out),
                             "--overlay", "preview", "--size", "320x240", "--fps", "10"],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        run = run_replay(video, estimates, ep, "--preview", "--preview-fps", "0", "--realtime")
        _, err = view.communicate(timeout=120)
    finally:
        if view.poll() is None:
            view.kill()
    assert run.returncode == 0, run.stderr
    assert view.returncode == 0, err
    line = next(x for x in err.splitlines() if x.startswith("overlay:"))
    received, drawn = (int(w) for w in line.split() if w.isdigit())
    assert received > 0 and drawn > 0, line
    with av.open(str(out)) as container:
        last = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][-1]
    assert last.shape == (240, 640, 3)
    right = last[30:, 320:].astype(int)
    orange = (right[..., 0] > right[..., 2] + 80) & (right[..., 0] > 150)
    assert orange.sum() > 500, orange.sum()  # the mesh, half transparent over the image
    assert right.std() > 20  # the texture of the camera image, not a black panel
