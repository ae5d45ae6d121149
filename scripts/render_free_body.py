"""Render the built-in free body in a few SMPL poses (front and side views) to one PNG.

    python scripts/render_free_body.py docs/images/free_body_poses.png

Each row is one pose (same SMPL axis-angle values an SMPL body would take); columns: front view,
the body's left side, and the front view at β₀ = +2 and −2 (taller / shorter).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
import torch
from stmocap.groundtruth.render import PinholeCamera, render_mesh
from stmocap.models.body.model import load_body_model
from stmocap.models.body.synthetic import SMPL_JOINT_NAMES
from stmocap.models.rotations import axis_angle_to_matrix

J = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
POSES: dict[str, dict[str, tuple[float, float, float]]] = {
    "T-pose": {},
    "left elbow -90deg about y, left knee +90deg about x, right hip -60deg about x": {
        "left_elbow": (0, -math.pi / 2, 0), "left_knee": (math.pi / 2, 0, 0), "right_hip": (-1.05, 0, 0)},
    "arms down (shoulders -+70deg about z), head +30deg about x, spine1 +20deg about x": {
        "left_shoulder": (0, 0, -1.2), "right_shoulder": (0, 0, 1.2), "head": (0.5, 0, 0),
        "spine1": (0.35, 0, 0)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    body = load_body_model("free")
    dominant = body.weights.argmax(1).numpy()[body.faces[:, 0]]
    colors = np.tile([0.55, 0.65, 0.85], (len(body.faces), 1))  # skin (BGR)
    colors[np.isin(dominant, [0, 1, 2, 4, 5])] = [0.45, 0.30, 0.20]  # trousers
    colors[np.isin(dominant, [3, 6, 9, 13, 14, 16, 17])] = [0.20, 0.20, 0.70]  # shirt
    cam = PinholeCamera.centred(520.0, 300, 400)
    views = {"front": np.eye(3), "left side": np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0.0]])}
    rows = []
    for name, pose in POSES.items():
        aa = torch.zeros(1, 24, 3)
        for joint, value in pose.items():
            aa[0, J[joint]] = torch.tensor(value)
        tiles = []
        for view, beta0 in (("front", 0.0), ("left side", 0.0), ("front", 2.0), ("front", -2.0)):
            betas = torch.zeros(1, 10)
            betas[0, 0] = beta0
            with torch.no_grad():
                v = body(axis_angle_to_matrix(aa), betas).vertices[0].double().numpy()
            v = v @ views[view].T  # turn the body, then SMPL (y up, +z to camera) → OpenCV camera
            v = v * np.array([1.0, -1.0, -1.0]) + np.array([0.0, 0.0, 3.2])
            img = np.full((cam.height, cam.width, 3), 235, np.uint8)
            render_mesh(img, v, body.faces, colors, cam)
            cv2.putText(img, f"{view}, b0={beta0:+.0f}", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (0, 0, 0), 1)
            tiles.append(img)
        row = np.concatenate(tiles, 1)
        cv2.putText(row, name, (6, cam.height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.concatenate(rows, 0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
