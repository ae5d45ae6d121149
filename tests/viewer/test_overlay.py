"""The overlay: the sample body's mesh, projected with the intrinsics it was posed under, covers
its own projected joints and nothing far from them; the image shows through (alpha)."""

from __future__ import annotations

import numpy as np
from stmocap.viewer.overlay import render_overlay


def test_mesh_lands_on_its_projected_joints(sample_body) -> None:  # type: ignore[no-untyped-def]
    f = sample_body.frame(x=0.3)
    image = np.full((480, 640, 3), 90, np.uint8)
    out = render_overlay(image, [(f["vertices"], np.array([1.0, 0.5, 0.0]))], sample_body.faces,
                         600.0, 600.0, 319.5, 239.5, alpha=0.6)
    painted = np.abs(out.astype(int) - 90).max(axis=-1) > 10
    uv = np.round(f["joints2d"]).astype(int)
    torso = [0, 3, 6, 9, 12, 1, 2, 4, 5, 16, 17, 18, 19]  # joints inside the body, not at its tips
    assert all(painted[v, u] for u, v in uv[torso])
    x0, y0, x1, y1 = f["box"]
    ys, xs = np.nonzero(painted)
    assert xs.min() >= x0 - 40 and xs.max() <= x1 + 40 and ys.min() >= y0 - 40 and ys.max() <= y1 + 40
    # Half transparent: the grey shows through, orange-tinted.
    r, g, b = out[uv[0][1], uv[0][0]].astype(int)
    assert r > g > b and b >= 0.4 * 90 - 1
    assert render_overlay(image, [], sample_body.faces, 600, 600, 319.5, 239.5) is not image
