"""Run mediapipe's own Pose solution over a video; for ``scripts/bench_mediapipe.py``.

Runs only in mediapipe's own environment (``/tmp/mpenv/bin/python scripts/mediapipe_worker.py
VIDEO OUT.npz``); stmocap never imports it. Video mode (``static_image_mode=False``),
``model_complexity=1``, ``smooth_landmarks=True`` (mediapipe's default), every frame.

Writes ``OUT.npz``: ``world (T, 33, 3)`` = ``pose_world_landmarks`` (metres, origin between the
hips; NaN where no person was found), ``visibility (T, 33)``, ``t_done (T,)`` (perf_counter
seconds after each frame's result), and prints one JSON line with the timing: ``frames``,
``detected``, ``fps`` = (frames − 1) / (last result − first result), i.e. steady state with the
decoding included, and ``wall_s`` from opening the video to the last result (model load excluded:
the solution is built before the video is opened).
"""

from __future__ import annotations

import json
import sys
import time

import cv2
import mediapipe as mp
import numpy as np


def main(video: str, out: str) -> int:
    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                  smooth_landmarks=True, enable_segmentation=False)
    world, vis, done = [], [], []
    t_open = time.perf_counter()
    cap = cv2.VideoCapture(video)
    if not cap.isOpened():
        print(f"cannot open {video}", file=sys.stderr)
        return 2
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        res = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if res.pose_world_landmarks is None:
            world.append(np.full((33, 3), np.nan))
            vis.append(np.zeros(33))
        else:
            lm = res.pose_world_landmarks.landmark
            world.append(np.array([[p.x, p.y, p.z] for p in lm]))
            vis.append(np.array([p.visibility for p in lm]))
        done.append(time.perf_counter())
    cap.release()
    pose.close()
    t = np.array(done)
    w = np.array(world)
    np.savez(out, world=w, visibility=np.array(vis), t_done=t)
    n = len(t)
    print(json.dumps({"frames": n, "detected": int(np.isfinite(w).all(axis=(1, 2)).sum()) if n else 0,
                      "fps": (n - 1) / (t[-1] - t[0]) if n > 1 else 0.0,
                      "wall_s": float(t[-1] - t_open) if n else 0.0,
                      "mediapipe": mp.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
