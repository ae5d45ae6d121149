"""The paper profile: HMR2.0 + DensePose-CSE per person, placed in metres, through the real graph.

The default tests use the test-sized (``tiny``) architectures with random weights; the full-size
run and the loaders of upstream-layout checkpoints at real size are ``slow``.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from stmocap.groundtruth.people import crossing_clip
from stmocap.models.body.synthetic import make_synthetic_body
from stmocap.models.camera import Intrinsics, project_points
from stmocap.realtime.messages import Message
from stmocap.realtime.pipeline import PerFrameConfig
from stmocap.realtime.stages.detect import FullFrameDetector
from stmocap.realtime.stages.paper import PaperPerFrame, build_paper_models, paper_tracker

from .helpers import Subscriber

TINY = PerFrameConfig(profile="paper", random_weights=True, paper_preset="tiny")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return crossing_clip(frames=8, cache=tmp_path_factory.mktemp("paper"))


def _frames(video: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out = []
    while len(out) < n:
        ok, img = cap.read()
        if not ok:
            break
        out.append(np.ascontiguousarray(img[..., ::-1]))
    return out


def _estimate(stage: PaperPerFrame, image: np.ndarray, seq: int = 0) -> Message:
    det = FullFrameDetector().process(Message(kind="frame", seq=seq, arrays={"image": image}))[0]
    return stage.process(det)[0]


def test_full_frame_person_gets_every_estimate(clip: tuple[Path, Path]) -> None:
    image = _frames(clip[0], 1)[0]
    stage = PaperPerFrame(build_paper_models(TINY), make_synthetic_body())
    out = _estimate(stage, image)
    a = out.arrays
    assert out.kind == "estimates" and a["track_ids"].tolist() == [0]
    assert a["pose_6d"].shape == (1, 24, 6) and a["betas"].shape == (1, 10)
    assert a["cam"].shape == (1, 3) and a["transl"].shape == (1, 3)
    assert a["feats"].shape == (1, *stage.feature_shape) and stage.feature_shape[0] == 16
    assert np.isfinite(a["transl"]).all() and a["transl"][0, 2] > 0
    assert out.meta["random_weights"] is True and out.meta["intrinsics"]["size"] == [image.shape[1],
                                                                                     image.shape[0]]


def test_translation_puts_the_body_where_the_crop_camera_shows_it(clip: tuple[Path, Path]) -> None:
    """The fitted transl is SMPL's: the posed body's root + transl projects (real intrinsics) onto
    the pixel where HMR2.0's own crop camera shows the root."""
    from stmocap.models.camera.crop_placement import crop_projection
    from stmocap.models.hmr2.preprocess import crop_people

    image = _frames(clip[0], 1)[0]
    h, w = image.shape[:2]
    stage = PaperPerFrame(build_paper_models(TINY), make_synthetic_body())
    a = _estimate(stage, image).arrays
    import torch
    from stmocap.models.rotations import rotation_6d_to_matrix

    rotmats = rotation_6d_to_matrix(torch.from_numpy(a["pose_6d"]))
    joints = stage._joints(rotmats, torch.from_numpy(a["betas"]))
    _, centers, sizes = crop_people(image, a["boxes"], stage.models.hmr2_config)
    intr = Intrinsics.from_diagonal_fov(78.0, (w, h))
    root_px = project_points(joints[0, :1] + a["transl"][0], intr, distort=False)[0]
    shown = crop_projection(joints[0, :1], a["cam"][0], centers[0], float(sizes[0]))[0]
    assert np.linalg.norm(root_px - shown) < 0.02 * float(sizes[0])


def test_detector_path_tracks_and_stays_consistent(clip: tuple[Path, Path]) -> None:
    """With the checkpoint's own detector (random weights: whatever it finds) and the tracker, every
    array has one row per track and ids are unique."""
    models = build_paper_models(replace(TINY, person_detector="cse"))
    assert models.detect
    stage = PaperPerFrame(models, make_synthetic_body(), tracker=paper_tracker(3))
    for i, image in enumerate(_frames(clip[0], 3)):
        a = _estimate(stage, image, i).arrays
        T = len(a["track_ids"])
        assert len(set(a["track_ids"].tolist())) == T <= 3
        assert all(len(a[k]) == T for k in ("boxes", "pose_6d", "betas", "cam", "transl", "feats"))


def test_the_whole_graph_runs_and_publishes(clip: tuple[Path, Path]) -> None:
    """``run --profile paper --random-weights`` end to end over real sockets (tiny sizes)."""
    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.pipeline import GraphConfig, PipelineConfig, PublishConfig
    from stmocap.realtime.sources import SourceConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ep = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    sub = Subscriber(ep, ("pose", "mesh", "stats"), timeout_s=300.0)
    cfg = PipelineConfig(source=SourceConfig(source=str(clip[0])), publish=PublishConfig(endpoint=ep),
                         perframe=TINY, graph=GraphConfig(frames=6, wait_subscribers=1))
    run_graph(cfg)
    sub.join()
    poses = sub.topic("pose")
    assert len(poses) == 6 and all(m.track == 0 for m in poses)
    for m in poses:
        assert np.isfinite(m.arrays["joints3d"]).all() and m.arrays["transl"][2] > 0


def test_upstream_layout_checkpoints_load_and_run(clip: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Checkpoints written in the upstream layouts (4D-Humans Lightning + model_config.yaml; one
    detectron2 model-zoo .pkl holding the Faster R-CNN stage and the CSE ROI head, R_50_FPN_s1x
    sizes) are found by the run's options, load strictly, pass ``stmocap models --check`` and run."""
    import torch
    from stmocap.models.densepose.checkpoint import to_detectron2
    from stmocap.models.densepose.config import PRESETS as CSE
    from stmocap.models.densepose.embedder import VertexEmbedder
    from stmocap.models.densepose.model import DensePoseHead
    from stmocap.models.detectron.checkpoint import upstream_state
    from stmocap.models.detectron.config import PRESETS as DET
    from stmocap.models.detectron.detector import FasterRCNN
    from stmocap.models.detectron.pkl import write_pkl
    from stmocap.models.hmr2.checkpoint import random_hmr2, save_upstream_layout
    from stmocap.models.hmr2.config import PRESETS as HMR2

    from stmocap.cli import main

    hmr2 = random_hmr2(HMR2["tiny"], seed=3)
    ckpt = save_upstream_layout(hmr2, tmp_path / "hmr2")
    torch.manual_seed(4)
    det = FasterRCNN(DET["R_50_FPN"]).eval()
    head_cfg = CSE["R_50_FPN_s1x"]
    head = DensePoseHead(head_cfg).eval()
    embedder = VertexEmbedder(head_cfg.num_vertices, head_cfg.vertex_feature_dim, head_cfg.embed_size)
    pkl = tmp_path / "model_final_test.pkl"
    write_pkl(pkl, {**upstream_state(det), **to_detectron2(head, embedder)})

    assert main(["models", "--profile", "paper", "--check", "--dir", str(tmp_path / "none"),
                 "--hmr2", str(ckpt), "--densepose", str(pkl)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok (checked)") == 3  # checkpoint, its model_config.yaml, the .pkl

    cfg = PerFrameConfig(profile="paper", hmr2=ckpt, densepose=pkl, paper_short_side=320)
    models = build_paper_models(cfg)
    assert models.detect and not models.random_weights
    for ours, theirs in ((models.hmr2, hmr2), (models.detector.model, det), (models.cse_head, head)):
        a, b = ours.state_dict(), theirs.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    stage = PaperPerFrame(models, make_synthetic_body(), tracker=paper_tracker(2))
    out_msg = _estimate(stage, _frames(clip[0], 1)[0])
    assert out_msg.meta["random_weights"] is False and out_msg.arrays["feats"].shape[1:] == (16, 112, 112)
