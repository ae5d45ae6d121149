"""The lite profile following two people: real BlazePose on a rendered two-person clip, stable
ids through the stages and on the published ``pose``/``mesh`` messages."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from stmocap.groundtruth.people import crossing_clip
from stmocap.realtime.messages import Message
from stmocap.realtime.stages.lite import BlazePoseDetect

from .helpers import Subscriber


def _frames(video: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            return out
        out.append(np.ascontiguousarray(img[..., ::-1]))


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The crossing clip's first 12 frames (the walkers still apart), rendered into the test's tmp."""
    return crossing_clip(frames=12, cache=tmp_path_factory.mktemp("people"))


def _nearest_person(box: np.ndarray, truth_boxes: np.ndarray) -> int:
    """The ground-truth person whose box centre is nearest ``box``'s."""
    c = (box[:2] + box[2:]) / 2
    return int(np.argmin(np.linalg.norm((truth_boxes[:, :2] + truth_boxes[:, 2:]) / 2 - c, axis=1)))


def test_two_people_get_two_ids_each_on_one_person(short_clip: tuple[Path, Path]) -> None:
    video, gt_path = short_clip
    truth = np.load(gt_path)["box"]
    stage = BlazePoseDetect(max_people=2)
    owner: dict[int, int] = {}
    for f, img in enumerate(_frames(video)):
        out = stage.process(Message(kind="frame", seq=f, arrays={"image": img}))[0]
        a = out.arrays
        assert a["landmarks"].shape == (len(a["track_ids"]), 33, 5)
        assert a["world"].shape == (len(a["track_ids"]), 33, 3) and a["boxes"].dtype == np.float32
        # Frame 0 starts both tracks; an id is given on a person's second frame (min_hits 2).
        assert a["track_ids"].tolist() == ([] if f == 0 else [0, 1])
        for tid, box in zip(a["track_ids"], a["boxes"], strict=True):
            person = _nearest_person(box, truth[f])
            assert owner.setdefault(int(tid), person) == person
    assert sorted(owner.values()) == [0, 1]
    assert stage.counts["more_people"] == 0
    # One person followed by default, as before: the single-person path.
    single = BlazePoseDetect()
    assert single.people is None
    out = single.process(Message(kind="frame", seq=0, arrays={"image": _frames(video)[0]}))[0]
    assert out.arrays["track_ids"].tolist() == [0] and single.counts["more_people"] == 1


def _fixed_box_detector(path: Path, boxes: np.ndarray, size: tuple[int, int]) -> Path:
    """An ONNX person detector that always answers ``boxes`` (model-input pixels), score 0.9."""

    class Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("b", torch.tensor(boxes, dtype=torch.float32))

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            zero = images.mean() * 0
            return self.b + zero, torch.full((len(boxes),), 0.9) + zero

    w, h = size
    torch.onnx.export(Fixed(), (torch.zeros(1, 3, h, w),), str(path), input_names=["images"],
                      output_names=["boxes", "scores"], dynamo=False)
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_users_onnx_detector_finds_the_people(short_clip: tuple[Path, Path], tmp_path: Path) -> None:
    """``--detector model.onnx``: the user's boxes start the tracks (letterbox 320×240 → 160×160:
    scale 0.5, 20 px bars above and below)."""
    pytest.importorskip("onnxruntime")
    video, gt_path = short_clip
    truth = np.load(gt_path)["box"][0]  # (2, 4) pixels of frame 0
    model = _fixed_box_detector(tmp_path / "fixed.onnx", truth * 0.5 + [0, 20, 0, 20], (160, 160))
    stage = BlazePoseDetect(max_people=2, detector=model)
    boxes = np.load(gt_path)["box"]
    ids, owner = [], {}
    for f, img in enumerate(_frames(video)[:4]):
        out = stage.process(Message(kind="frame", seq=f, arrays={"image": img}))[0]
        ids.append(out.arrays["track_ids"].tolist())
        for tid, box in zip(out.arrays["track_ids"], out.arrays["boxes"], strict=True):
            person = _nearest_person(box, boxes[f])
            assert owner.setdefault(int(tid), person) == person
    assert ids == [[], [0, 1], [0, 1], [0, 1]] and sorted(owner.values()) == [0, 1]


def _run_lite(video: Path, gt: Path, frames: int, max_people: int) -> tuple[list, list, dict]:
    from stmocap.realtime.camera import CameraConfig
    from stmocap.realtime.graph import run_graph
    from stmocap.realtime.pipeline import GraphConfig, PerFrameConfig, PipelineConfig, PublishConfig
    from stmocap.realtime.sources import SourceConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        ep = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    sub = Subscriber(ep, ("pose", "mesh", "stats"), timeout_s=300.0)
    cfg = PipelineConfig(source=SourceConfig(source=str(video)), publish=PublishConfig(endpoint=ep),
                         perframe=PerFrameConfig(max_people=max_people),
                         camera=CameraConfig(intrinsics=gt),
                         graph=GraphConfig(frames=frames, wait_subscribers=1))
    result = run_graph(cfg)
    sub.join()
    return sub.topic("pose"), sub.topic("mesh"), result.stats


def _check_wire(poses: list, meshes: list) -> None:
    """Every pose and mesh message names its person; each frame's mesh tracks are its pose tracks."""
    assert poses and all(m.track >= 0 for m in poses + meshes)
    by_frame: dict[int, list[int]] = {}
    for m in poses:
        by_frame.setdefault(m.frame_index, []).append(m.track)
    mesh_frame: dict[int, list[int]] = {}
    for m in meshes:
        mesh_frame.setdefault(m.frame_index, []).append(m.track)
    assert {f: sorted(t) for f, t in by_frame.items()} == {f: sorted(t) for f, t in mesh_frame.items()}
    assert all(len(t) == len(set(t)) for t in by_frame.values())


def test_the_published_messages_carry_each_persons_id(short_clip: tuple[Path, Path]) -> None:
    """The whole lite graph with ``max_people 2``: two ids on every frame after the first, in the
    pose and the mesh messages, each id's body where its person is."""
    video, gt = short_clip
    poses, meshes, stats = _run_lite(video, gt, 12, 2)
    _check_wire(poses, meshes)
    frames: dict[int, list[int]] = {}
    for m in poses:
        frames.setdefault(m.frame_index, []).append(m.track)
    assert {f: sorted(t) for f, t in frames.items()} == {f: [0, 1] for f in range(1, 12)}
    truth = np.load(gt)["joints2d"][:, :, 0]  # (T, 2, 2) pelvis pixels per person
    owner = {}
    for m in poses:
        person = int(np.argmin(np.linalg.norm(truth[m.frame_index] - m.arrays["joints2d"][0], axis=1)))
        assert owner.setdefault(m.track, person) == person
        assert np.linalg.norm(truth[m.frame_index, person] - m.arrays["joints2d"][0]) < 15  # px
    assert sorted(owner.values()) == [0, 1]
    assert stats["frames"] == 22  # pose messages: two people on 11 frames


@pytest.mark.slow
def test_two_walkers_crossing_keep_their_ids(tmp_path: Path) -> None:
    """The 60-frame crossing clip (320×240; the near walker hides the far one for ≈ 5 frames)
    through the real lite graph: two ids, each on one person for ≥ 90 % of the frames where it is
    published and both people are visible (≥ 50 % of their joints)."""
    video, gt = crossing_clip(frames=60, cache=tmp_path)
    poses, meshes, _ = _run_lite(video, gt, 60, 2)
    _check_wire(poses, meshes)
    truth = np.load(gt)
    both = (truth["visible"] >= 0.5).all(1)
    pelvis = truth["joints2d"][:, :, 0]
    hits: dict[int, list[int]] = {}
    for m in poses:
        if both[m.frame_index]:
            d = np.linalg.norm(pelvis[m.frame_index] - m.arrays["joints2d"][0], axis=1)
            hits.setdefault(m.track, []).append(int(np.argmin(d)))
    assert sorted(hits) == [0, 1], hits.keys()
    owners = {}
    for tid, people in hits.items():
        owner = max((0, 1), key=people.count)
        owners[tid] = owner
        assert people.count(owner) >= 0.9 * len(people), (tid, people)
    assert sorted(owners.values()) == [0, 1]
    # Coverage: each id is published on most both-visible frames (the far walker is re-found a few
    # frames after the crossing; measured in docs/benchmarks.md).
    assert all(len(p) >= 0.7 * both.sum() for p in hits.values()), {t: len(p) for t, p in hits.items()}


@pytest.mark.parametrize(("argv", "needle"), [
    (["run", "--max-people", "0"], "--max-people"), (["run", "--detect-every", "0"], "--detect-every"),
    (["run", "--detector", "/nonexistent/people.onnx"], "file not found")])
def test_people_options_are_checked(argv: list[str], needle: str, capsys: pytest.CaptureFixture) -> None:
    from stmocap.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and needle in last and "error:" in last, last


def test_people_options_reach_the_stage_config() -> None:
    import argparse

    from stmocap.realtime.pipeline import PerFrameConfig

    from stmocap.commands.run import pipeline_config

    assert PerFrameConfig().max_people == 1  # one person unless asked
    from stmocap.cli import build_parser

    args = build_parser().parse_args(["run", "--max-people", "3", "--detect-every", "4"])
    assert isinstance(args, argparse.Namespace)
    cfg = pipeline_config(args)
    assert (cfg.perframe.max_people, cfg.perframe.detect_every, cfg.perframe.detector) == (3, 4, None)
