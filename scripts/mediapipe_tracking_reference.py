"""Record mediapipe's video-mode tracking on a moving photo: the reference for
``tests/models/blazepose/test_tracking.py``.

Runs only in mediapipe's own environment (mediapipe==0.10.21, numpy, opencv; stmocap is never
imported there)::

    PHOTO=$(python -c 'import os, skimage; print(os.path.dirname(skimage.__file__))')/data/astronaut.png
    /tmp/mpenv/bin/python scripts/mediapipe_tracking_reference.py "$PHOTO" \
        tests/models/blazepose/data/tracking_reference.npz

(the first line in stmocap's environment, where scikit-image is installed).

The clip: the PNG (lossless, so both environments decode the same pixels), decimated 2× by
slicing, pasted on a black 640×480 canvas at integer offsets that move it right and down, then
back, at varying speed (``OFFSETS``). Nothing is interpolated, so the frames are bit-exact
wherever they are rebuilt. Each frame goes through mediapipe's ``PoseLandmarkCpu`` graph, video
mode, model complexity 1, once with ``smooth_landmarks`` on and once off; the graph is asked
for two of its inner streams too: ``pose_rect`` (the ROI this frame was cropped with) and
``pose_rect_from_landmarks`` (the ROI it gives the next frame).

Tracking amplifies differences: on this clip a 1e-6 difference in one frame's ROI grows to pixels
within a few frames (the legs are out of view and the model's guesses for them are sensitive to
the crop), so a port is compared frame by frame on mediapipe's own ROIs, not free-running.

Writes: ``offsets (T, 2)`` x, y of the photo's top-left corner; for ``s`` in ``smooth``, ``raw``:
``{s}_world (T, 33, 3)`` metres, ``{s}_landmarks (T, 33, 4)`` normalised x, y, z, visibility,
``{s}_rect (T, 5)`` and ``{s}_next_rect (T, 5)``: x centre, y centre, width, height
(normalised), rotation (radians); NaN where no person was found; and ``mediapipe`` (its version).
"""

from __future__ import annotations

import sys

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.python.solution_base import SolutionBase
from mediapipe.python.solutions import pose as mp_pose

CANVAS = (480, 640)
OFFSETS = [(100 + x, 60 + y) for x, y in
           [(0, 0), (0, 0), (2, 1), (5, 2), (9, 3), (14, 5), (20, 7), (27, 9), (35, 11), (44, 13),
            (54, 15), (64, 17), (73, 19), (81, 21), (88, 22), (94, 23), (99, 24), (103, 24),
            (106, 23), (108, 21), (108, 18), (106, 15), (102, 12), (96, 9), (88, 6), (78, 4),
            (66, 2), (53, 1), (40, 0), (28, 0), (17, 0), (8, 0), (2, 0), (0, 0), (0, 0), (0, 0)]]


def frames(photo: np.ndarray) -> list[np.ndarray]:
    """The clip as RGB uint8 ``(480, 640, 3)`` frames from the decoded photo (RGB)."""
    small = photo[::2, ::2]
    h, w = small.shape[:2]
    out = []
    for x, y in OFFSETS:
        canvas = np.zeros((*CANVAS, 3), np.uint8)
        canvas[y:y + h, x:x + w] = small
        out.append(canvas)
    return out


def run(clip: list[np.ndarray], smooth: bool) -> dict[str, np.ndarray]:
    graph = SolutionBase(
        binary_graph_path=mp_pose._BINARYPB_FILE_PATH,
        side_inputs={"model_complexity": 1, "smooth_landmarks": smooth,
                     "enable_segmentation": False, "smooth_segmentation": False,
                     "use_prev_landmarks": True},
        outputs=["pose_landmarks", "pose_world_landmarks", "pose_rect",
                 "pose_rect_from_landmarks"])
    world, lms, rects, nexts = [], [], [], []
    for image in clip:
        r = graph.process({"image": image})
        if r.pose_world_landmarks is None:
            world.append(np.full((33, 3), np.nan))
            lms.append(np.full((33, 4), np.nan))
            rects.append(np.full(5, np.nan))
            nexts.append(np.full(5, np.nan))
            continue
        world.append([[p.x, p.y, p.z] for p in r.pose_world_landmarks.landmark])
        lms.append([[p.x, p.y, p.z, p.visibility] for p in r.pose_landmarks.landmark])
        for out, q in ((rects, r.pose_rect), (nexts, r.pose_rect_from_landmarks)):
            out.append([q.x_center, q.y_center, q.width, q.height, q.rotation])
    graph.close()
    key = "smooth" if smooth else "raw"
    return {f"{key}_world": np.array(world), f"{key}_landmarks": np.array(lms),
            f"{key}_rect": np.array(rects), f"{key}_next_rect": np.array(nexts)}


def main(photo_path: str, out: str) -> int:
    bgr = cv2.imread(photo_path, cv2.IMREAD_COLOR)
    if bgr is None:
        print(f"cannot read {photo_path}", file=sys.stderr)
        return 2
    clip = frames(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    result = {"offsets": np.array(OFFSETS, np.int32), "mediapipe": np.array(mp.__version__)}
    for smooth in (True, False):
        result.update(run(clip, smooth))
    np.savez_compressed(out, **result)
    print(f"{len(clip)} frames, found {int(np.isfinite(result['smooth_world'][:, 0, 0]).sum())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
