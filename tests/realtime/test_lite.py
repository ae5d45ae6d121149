"""The lite profile's per-frame stage on a real photo: BlazePose → IK → SMPL estimates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from stmocap.models.body.synthetic import make_synthetic_body
from stmocap.realtime.messages import Message
from stmocap.realtime.stages.base import run_chain
from stmocap.realtime.stages.lite import BlazePoseDetect, IKPerFrame

FIXTURES = Path(__file__).parents[1] / "models" / "blazepose" / "data"


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    c = np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)
    return float(np.degrees(np.arccos(np.clip(c, -1, 1))))


@pytest.fixture(scope="module")
def stages() -> list:
    return [BlazePoseDetect(), IKPerFrame(make_synthetic_body())]


def _frame(image: np.ndarray, seq: int = 0) -> Message:
    return Message(kind="frame", seq=seq, arrays={"image": image})


def test_astronaut_arms_follow_mediapipe(stages: list) -> None:
    from skimage import data

    img = data.astronaut()
    ref = json.loads((FIXTURES / "ref_astronaut.json").read_text())
    world = np.array(ref["world_landmarks_xyz_vis_pres"])
    out = run_chain(stages, _frame(img))[0]
    assert out.kind == "estimates"
    assert out.arrays["pose_6d"].shape == (1, 24, 6) and out.arrays["cam"][0, 0] > 0
    box = out.arrays["boxes"][0]
    assert box[0] < 150 and box[2] > 350  # the box spans the shoulders (at x ≈ 113 and 306)
    import torch
    from stmocap.models.body.model import LBSBody
    from stmocap.models.rotations import rotation_6d_to_matrix

    with torch.no_grad():  # the body the published parameters pose
        J = LBSBody(make_synthetic_body())(rotation_6d_to_matrix(torch.from_numpy(out.arrays["pose_6d"])),
                                           torch.from_numpy(out.arrays["betas"])).joints[0].numpy()
    # SMPL bone (joint pair) vs mediapipe world-landmark bone; visibility of the far landmark.
    bones = {"left upper arm": ((16, 18), (11, 13)), "right upper arm": ((17, 19), (12, 14)),
             "right forearm": ((19, 21), (14, 16)), "left forearm": ((18, 20), (13, 15))}
    errors = {name: _angle(J[j1] - J[j0], world[l1, :3] - world[l0, :3])
              for name, ((j0, j1), (l0, l1)) in bones.items()}
    # Both arms, including the left forearm whose wrist mediapipe sees only 0.13 (8.7° at most here).
    assert all(e < 15.0 for e in errors.values()), errors


def test_no_person_gives_no_track(stages: list) -> None:
    out = run_chain(stages, _frame(np.full((240, 320, 3), 20, np.uint8)))[0]
    assert out.arrays["track_ids"].shape == (0,) and stages[1].previous == {}


def test_lite_stage_emits_the_network_features(stages: list) -> None:
    """``feats (T, 231)``: the lite network's H of each track, from its detection."""
    from skimage import data
    from stmocap.models.temporal.features import FEATURE_DIM, blazepose_features

    img = data.astronaut()
    det = run_chain(stages[:1], _frame(img))[0]
    out = run_chain(stages[1:], det)[0]
    a = det.arrays
    assert out.arrays["feats"].shape == (1, FEATURE_DIM) and out.arrays["feats"].dtype == np.float32
    want = blazepose_features(a["landmarks"][0], a["world"][0], a["boxes"][0], img.shape[1::-1])
    np.testing.assert_array_equal(out.arrays["feats"][0], want)
    empty = run_chain(stages, _frame(np.full((240, 320, 3), 20, np.uint8)))[0]
    assert empty.arrays["feats"].shape == (0, FEATURE_DIM)


def _lite_graph_poses(frames: int, temporal: object) -> list:
    import socket

    from stmocap.realtime.filters import FilterConfig
    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.pipeline import GraphConfig, PipelineConfig, PublishConfig
    from stmocap.realtime.sources import SourceConfig

    from .helpers import Subscriber

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ep = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    sub = Subscriber(ep, ("pose", "stats"))
    # one filter for every run compared (--filter auto would pick the taps where no network runs)
    cfg = PipelineConfig(source=SourceConfig(source="demo"), publish=PublishConfig(endpoint=ep),
                         graph=GraphConfig(frames=frames, wait_subscribers=1), temporal=temporal,
                         smoothing=FilterConfig(filter="one-euro"))
    run_graph(cfg)
    sub.join()
    return sub.topic("pose")


def test_lite_graph_with_an_untrained_lite_network() -> None:
    """``--temporal net --preset lite`` on the lite profile runs end to end, and the untrained
    network (g starts from the input Θ_init, ω_init; decoders near zero, ζ's head zero) returns the
    IK pose within a degree; β starts from the mean shape, not from IK's."""
    from stmocap.realtime.pipeline import TemporalConfig

    net = _lite_graph_poses(18, TemporalConfig(temporal="net", preset="lite"))
    ik = _lite_graph_poses(18, TemporalConfig(temporal="none"))
    assert [m.frame_index for m in net] == [m.frame_index for m in ik] == list(range(18))
    rel = np.stack([a.arrays["rotmats"].transpose(0, 2, 1) @ b.arrays["rotmats"]
                    for a, b in zip(net, ik, strict=True)])
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    assert angle.max() < 1.0, angle.max()
    assert all(np.abs(m.arrays["betas"]).max() < 0.05 for m in net)  # mean β (zero) + a small decoder


def test_lite_profile_through_the_graph() -> None:
    """``stmocap run --source demo`` in miniature: a real person in, SMPL bodies out."""
    import socket

    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.pipeline import GraphConfig, PipelineConfig, PublishConfig
    from stmocap.realtime.sources import SourceConfig

    from .helpers import Subscriber

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ep = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    sub = Subscriber(ep, ("pose", "stats"))
    cfg = PipelineConfig(source=SourceConfig(source="demo"), publish=PublishConfig(endpoint=ep),
                         graph=GraphConfig(frames=20, wait_subscribers=1))
    result = run_graph(cfg)
    sub.join()
    poses = sub.topic("pose")
    assert [m.frame_index for m in poses] == list(range(20))
    assert result.stats["frames"] == 20
    # The person stays upright and in front of the camera: head above pelvis, positive depth.
    for m in poses:
        j = m.arrays["joints3d"]
        assert j[15, 1] < j[0, 1] and m.arrays["transl"][2] > 0
    _check_metric_wire(poses)


def _check_metric_wire(poses: list) -> None:
    """The demo's known camera is used; bodies sit where the truth is, in metres; the published
    intrinsics reproject joints3d onto joints2d; SMPL(β, θ, transl) reproduces joints3d."""
    import torch
    from stmocap.groundtruth.demo import demo_paths
    from stmocap.models.body.model import load_body_model
    from stmocap.models.camera import Intrinsics, load_intrinsics, project_points

    truth_file = demo_paths()[1]
    truth = load_intrinsics(truth_file)
    gt_pelvis = np.load(truth_file)["joints3d"][:, 0]
    body = load_body_model(None)
    for m in poses:
        a = m.arrays
        intr = Intrinsics.from_meta(m.meta["intrinsics"])
        assert intr == truth
        assert np.abs(project_points(a["joints3d"], intr) - a["joints2d"]).max() < 1.0
        with torch.no_grad():
            out = body(torch.tensor(a["rotmats"][None]), torch.tensor(a["betas"][None]),
                       torch.tensor(a["transl"][None]))
        assert np.abs(out.joints[0].numpy() - a["joints3d"]).max() < 1e-4
        assert np.allclose(a["pelvis"], a["joints3d"][0])
        true_depth = gt_pelvis[m.seq, 2]
        assert abs(a["pelvis"][2] - true_depth) < 0.15 * true_depth  # 3.4 m away, not 57-131 m
        T = a["T_world_cam"]
        assert T.shape == (4, 4) and np.allclose(T[:3, :3] @ a["pelvis"] + T[:3, 3], a["pelvis_world"],
                                                 atol=1e-5)


def test_ik_iterations_option() -> None:
    from dataclasses import replace

    import pytest
    from stmocap.realtime.pipeline import PipelineConfig, build_stage

    cfg = PipelineConfig()
    default = build_stage("perframe", cfg).analytic
    assert default is not None and default.aim == 0.5  # default: closed form, half aimed
    aimed = build_stage("perframe", replace(cfg, perframe=replace(cfg.perframe, ik_aim=1.0)))
    assert aimed.analytic.aim == 1.0
    stage = build_stage("perframe", replace(cfg, perframe=replace(cfg.perframe, ik_iterations=3)))
    assert stage.solver.config.iterations == 3 and stage.analytic is None
    with pytest.raises(ValueError, match="ik-iterations"):
        build_stage("perframe", replace(cfg, perframe=replace(cfg.perframe, ik_iterations=-1)))


def test_perframe_translation_is_metric_under_distortion() -> None:
    """IK on a body's own landmarks, its 2D landmarks seen through a distorting lens: the fitted
    SMPL ``transl`` is where the body was (undistortion before fitting), warm-started per track."""
    import torch
    from stmocap.models.camera import Intrinsics, project_points, save_intrinsics_json
    from stmocap.models.ik.correspondence import landmarks_from_joints
    from stmocap.models.ik.solver import IKSolver
    from stmocap.realtime.camera import CameraConfig

    data = make_synthetic_body()
    intr = Intrinsics(560.0, 560.0, 322.0, 236.0, (640, 480), (-0.25, 0.08, 0.0, 0.0, 0.0))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        stage = IKPerFrame(data, camera=CameraConfig(intrinsics=save_intrinsics_json(
            intr, Path(tmp) / "c.json")))
    solver = IKSolver(data)
    rot = torch.eye(3).repeat(1, 24, 1, 1)
    rot[0, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # upright in the camera frame
    rest = solver.skeleton.joints(torch.zeros(1, 10))
    from stmocap.models.body.lbs import forward_kinematics

    joints = forward_kinematics(rot, rest, solver.skeleton.parents)[0][0].numpy()
    for seq, transl in enumerate([np.array([0.4, 0.1, 3.5]), np.array([0.45, 0.1, 3.6])]):
        cam = landmarks_from_joints(joints + transl)
        px = project_points(cam, intr)  # distorted, as the raw image shows them
        lm = np.concatenate([px / [640, 480], cam[:, 2:3], np.ones((33, 2))], 1).astype(np.float32)
        world = landmarks_from_joints(joints - joints[0]).astype(np.float32)
        msg = Message(kind="detections", seq=seq,
                      arrays={"track_ids": np.array([0]), "boxes": np.array([[0, 0, 640, 480]], np.float32),
                              "landmarks": lm[None], "world": world[None]},
                      meta={"image_size": [640, 480]})
        out = stage.process(msg)[0]
        assert np.abs(out.arrays["transl"][0] - transl).max() < 0.05  # metres, at 3.5 m
        assert Intrinsics.from_meta(out.meta["intrinsics"]) == intr


@pytest.mark.parametrize("iterations", [0, 3])
def test_a_stated_height_poses_and_places_the_person(iterations: int) -> None:
    """A 1.95 m person at 3.5 m whose world landmarks come mean-sized (BlazePose keeps one size
    whoever is filmed): told the height, the stage (closed form or L-BFGS) gives that body's β
    and finds the true depth; not told, the mean body is placed too near by the size ratio."""
    import torch
    from stmocap.models.body.free_body import load_body_data
    from stmocap.models.body.lbs import forward_kinematics
    from stmocap.models.body.stature import betas_for_stature, skeleton_scale
    from stmocap.models.camera import Intrinsics, project_points, save_intrinsics_json
    from stmocap.models.ik.correspondence import landmarks_from_joints
    from stmocap.models.ik.solver import IKConfig, IKSolver
    from stmocap.realtime.camera import CameraConfig

    data = load_body_data(None)
    tall = betas_for_stature(data, 1.95)
    scale = skeleton_scale(data, tall)
    intr = Intrinsics(560.0, 560.0, 320.0, 240.0, (640, 480), (0.0,) * 5)
    solver = IKSolver(data)
    rot = torch.eye(3).repeat(1, 24, 1, 1)
    rot[0, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # upright in the camera frame
    rest = solver.skeleton.joints(torch.from_numpy(tall).float()[None])
    joints = forward_kinematics(rot, rest, solver.skeleton.parents)[0][0].numpy()
    transl = np.array([0.2, 0.1, 3.5])
    cam = landmarks_from_joints(joints - joints[0] + transl)
    px = project_points(cam, intr)
    lm = np.concatenate([px / [640, 480], cam[:, 2:3], np.ones((33, 2))], 1).astype(np.float32)
    world = (landmarks_from_joints(joints - joints[0]) / scale).astype(np.float32)  # mean-sized
    msg = Message(kind="detections", seq=0,
                  arrays={"track_ids": np.array([0]), "boxes": np.array([[0, 0, 640, 480]], np.float32),
                          "landmarks": lm[None], "world": world[None]},
                  meta={"image_size": [640, 480]})
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        camera = CameraConfig(intrinsics=save_intrinsics_json(intr, Path(tmp) / "c.json"))
        ik = IKConfig(iterations=iterations)
        told = IKPerFrame(data, ik, camera=camera, height=1.95).process(msg)[0]
        unknown = IKPerFrame(data, ik, camera=camera).process(msg)[0]
    np.testing.assert_allclose(told.arrays["betas"][0], tall, atol=1e-5)
    assert told.meta["shape_given"] and "shape_given" not in unknown.meta
    # the pelvis in the camera frame = SMPL transl + the rest root (joints[0], unposed root)
    pelvis_told = told.arrays["transl"][0] + joints[0]
    assert np.abs(pelvis_told - transl).max() < 0.1  # metres, at 3.5 m
    pelvis_unknown = unknown.arrays["transl"][0][2] + joints[0][2]
    assert pelvis_unknown < transl[2] / scale + 0.15  # the mean body, placed too near
    assert np.abs(unknown.arrays["betas"][0]).max() < 0.3


def test_a_network_trained_on_the_landmark_embedding_gets_it(tmp_path: Path) -> None:
    """A lite checkpoint whose H is 231 + 1,152 values turns ``--landmark-embedding`` on by itself:
    the detect stage sends the landmark network's feature map, the per-frame stage appends it to
    the landmark features, and the graph runs the network on them end to end. Asking for the
    embedding with a 231-feature checkpoint is refused with the reason."""
    from dataclasses import replace

    from skimage import data
    from stmocap.models.temporal.checkpoint import save_checkpoint
    from stmocap.models.temporal.config import LITE
    from stmocap.models.temporal.features import FEATURE_DIM
    from stmocap.models.temporal.network import TemporalNet
    from stmocap.realtime.pipeline import (
        PerFrameConfig,
        PipelineConfig,
        TemporalConfig,
        build_stage,
        landmark_embedding_for,
    )

    wide = save_checkpoint(TemporalNet(replace(LITE, feat_channels=FEATURE_DIM + 1152)),
                           tmp_path / "wide.pt")
    narrow = save_checkpoint(TemporalNet(LITE), tmp_path / "narrow.pt")
    cfg = PipelineConfig(temporal=TemporalConfig(temporal="net", checkpoint=wide))
    assert landmark_embedding_for(cfg)
    assert not landmark_embedding_for(replace(cfg, temporal=TemporalConfig(temporal="none")))
    asked = replace(cfg, perframe=PerFrameConfig(landmark_embedding=True))
    with pytest.raises(ValueError, match="trained without the embedding"):
        landmark_embedding_for(replace(asked, temporal=replace(cfg.temporal, checkpoint=narrow)))
    detect = build_stage("detect", cfg)
    try:
        det = run_chain([detect], _frame(data.astronaut()))[0]
    finally:
        detect.close()
    assert det.arrays["embedding"].shape == (1, 1152)
    out = run_chain([IKPerFrame(make_synthetic_body())], det)[0]
    feats = out.arrays["feats"]
    assert feats.shape == (1, FEATURE_DIM + 1152)
    np.testing.assert_array_equal(feats[0, FEATURE_DIM:], det.arrays["embedding"][0])
    poses = _lite_graph_poses(18, TemporalConfig(temporal="net", checkpoint=wide))
    assert [m.frame_index for m in poses] == list(range(18))
