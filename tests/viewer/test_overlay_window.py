"""The live overlay (``stmocap view --overlay`` with a screen): a second Open3D window showing the
overlay panel. Real Open3D windows under Xvfb, a real run and real sockets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.realtime.helpers import make_estimates, save_estimates
from tests.realtime.test_preview import _endpoint, run_replay
from tests.viewer.test_preview_overlay import FRAMES, textured_video


def test_the_window_shows_each_image_it_is_given(xdisplay: str) -> None:
    from stmocap.viewer.overlay_window import OverlayWindow

    window = OverlayWindow(320, 240)
    try:
        first = np.zeros((240, 320, 3), np.uint8)
        first[:, :160] = (230, 159, 0)
        first[60:180, 200:280] = (0, 200, 50)
        window.show(first)
        window.render()
        assert np.abs(window.capture().astype(int) - first).mean() < 1.0
        second = first.copy()
        second[:, :160] = (0, 0, 255)  # updated in place, same size
        window.show(second)
        window.render()
        assert np.abs(window.capture().astype(int) - second).mean() < 1.0
        small = np.full((120, 160, 3), 90, np.uint8)  # another size: a new image geometry
        window.show(small)
        window.render()
        shot = window.capture()
        assert shot.shape == (240, 320, 3) and np.abs(shot[100:140, 140:180].astype(int) - 90).max() < 3
    finally:
        window.close()


def test_live_view_shows_the_overlay_from_the_preview_topic(xdisplay: str, tmp_path: Path) -> None:
    """``stmocap view --overlay preview`` on screen (no --record) against ``stmocap run
    --preview``: the second window gets the overlay panels (counted at the end; what the window
    shows of a panel is the test above)."""
    video = textured_video(tmp_path / "clip.avi", FRAMES)
    estimates = save_estimates(tmp_path / "est.npz", make_estimates(FRAMES))
    ep = _endpoint()
    view = subprocess.Popen([sys.executable, "-m", "stmocap", "view", ep, "--overlay", "preview",
                             "--size", "320x240", "--duration", "60"],
                            stderr=subprocess.PIPE, text=True)  # DISPLAY: the Xvfb fixture's
    try:
        run = run_replay(video, estimates, ep, "--preview", "--preview-fps", "0", "--realtime")
        _, err = view.communicate(timeout=60)  # the window closes when the stream ends
    finally:
        if view.poll() is None:
            view.kill()
    assert run.returncode == 0, run.stderr
    line = next((x for x in err.splitlines() if x.startswith("overlay:")), None)
    assert line is not None, err
    received, drawn = (int(w) for w in line.split() if w.isdigit())
    assert received > 0 and drawn > 0, line
