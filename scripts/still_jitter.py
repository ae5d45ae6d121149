"""Frame-to-frame movement of BlazePose's output on a still person (one photo repeated), with and
without video-mode smoothing.

    python scripts/still_jitter.py [--frames 30] [--image astronaut|grace_hopper]
"""

from __future__ import annotations

import argparse

import numpy as np
from stmocap.models.blazepose.pipeline import BlazePose


def _image(name: str) -> np.ndarray:
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    import matplotlib.cbook as cbook
    import matplotlib.pyplot as plt

    return plt.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))[..., :3]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--image", default="astronaut", choices=["astronaut", "grace_hopper"])
    args = p.parse_args()
    img = np.ascontiguousarray(_image(args.image))
    h, w = img.shape[:2]
    for smooth in (False, True):
        tracker = BlazePose(track=True, smooth=smooth)
        results = [tracker(img, t=k / 30) for k in range(args.frames)][2:]
        if any(r is None for r in results):
            print(f"smooth={smooth}: the person was lost on some frames")
            continue
        px = np.stack([r.landmarks[:, :2] * [w, h] for r in results])
        lm = np.linalg.norm(np.diff(px, axis=0), axis=-1)
        world = np.linalg.norm(np.diff(np.stack([r.world for r in results]), axis=0), axis=-1) * 1000
        print(f"smooth={smooth}: landmarks {lm.mean():.2f} px/frame (max {lm.max():.1f}), "
              f"world {world.mean():.2f} mm/frame (max {world.max():.1f})")


if __name__ == "__main__":
    main()
