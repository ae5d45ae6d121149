"""Stages chained in one process: several tracks appearing and leaving; camera placement."""

from __future__ import annotations

import numpy as np
import pytest
from stmocap.engines.factory import open_model_engine
from stmocap.realtime.messages import Message
from stmocap.realtime.stages.base import EOS, run_chain
from stmocap.realtime.stages.body import BodyStage
from stmocap.realtime.stages.stitch import StitchStage
from stmocap.realtime.stages.temporal import TemporalStage
from stmocap.realtime.stages.window import WindowStage
from stmocap.realtime.windows import WindowPlan

from .helpers import make_estimates, offline_reference


def _frame(seq: int, tracks: dict[int, dict[str, np.ndarray]]) -> Message:
    ids = sorted(tracks)
    arrays = {"track_ids": np.array(ids, np.int64),
              "boxes": np.tile(np.array([[0, 0, 100, 200]], np.float32), (len(ids), 1))}
    for key in ("pose_6d", "betas", "cam"):
        arrays[key] = np.stack([tracks[t][key] for t in ids]) if ids else np.zeros((0,), np.float32)
    return Message(kind="estimates", seq=seq, arrays=arrays, meta={"image_size": [100, 200]})


@pytest.mark.parametrize(("stride", "lookahead"), [(1, 0), (2, 3), (4, 3)])
def test_tracks_that_come_and_go_match_offline(stride: int, lookahead: int) -> None:
    plan = WindowPlan(window=4, stride=stride, lookahead=lookahead)
    a = make_estimates(20, seed=1)  # track 7: frames 0..19
    b = make_estimates(6, seed=2)  # track 3: frames 5..10 (shorter than nothing-but-tails)
    stages = [WindowStage(plan), TemporalStage(None), StitchStage(plan)]
    out: list[Message] = []
    for seq in range(20):
        tracks = {7: {k: v[seq] for k, v in a.items()}}
        if 5 <= seq <= 10:
            tracks[3] = {k: v[seq - 5] for k, v in b.items()}
        out += run_chain(stages, _frame(seq, tracks))
    out += run_chain(stages, Message(kind=EOS, seq=20))
    params = [m for m in out if m.kind == "params"]
    assert [m.seq for m in out if m.kind == "progress"] == list(range(20))  # one per frame
    for tid, est, first in ((7, a, 0), (3, b, 5)):
        mine = [m for m in params if m.track == tid]
        assert [m.seq for m in mine] == list(range(first, first + len(est["pose_6d"])))
        rot, lin = offline_reference(est, plan, None)
        np.testing.assert_allclose(np.stack([m.arrays["rotmats"] for m in mine]), rot, atol=1e-6)
        np.testing.assert_allclose(
            np.stack([np.concatenate([m.arrays["betas"], m.arrays["cam"]]) for m in mine]), lin,
            atol=1e-6)


def test_body_stage_places_the_body_in_the_image() -> None:
    engine = open_model_engine("body")
    stage = BodyStage(engine, engine.model.module.body.faces)
    rot = np.tile(np.eye(3, dtype=np.float32), (24, 1, 1))
    rot[0] = np.diag([1.0, -1.0, -1.0])  # upright in the camera frame (π about x)
    box = np.array([300, 100, 500, 400], np.float32)  # 300 px tall box centred at (400, 250)
    msg = Message(kind="params", seq=0, arrays={"rotmats": rot, "betas": np.zeros(10, np.float32),
                                                "cam": np.array([0.9, 0.0, 0.0], np.float32),
                                                "box": box},
                  meta={"image_size": [640, 480]})
    faces, body = stage.handle(msg)
    assert faces.kind == "faces" and body.kind == "body"
    assert stage.handle(msg)[0].kind == "body"  # faces only once
    j2d = body.arrays["joints2d"]
    pelvis = j2d[0]
    # The root joint lands inside the box, near its centre; the head is above the feet.
    assert 300 < pelvis[0] < 500 and 100 < pelvis[1] < 400
    assert j2d[15, 1] < j2d[7, 1]
    assert body.arrays["transl"][2] > 0


def test_frames_without_a_person_are_counted_on_every_later_frame() -> None:
    plan = WindowPlan(window=4, stride=1, lookahead=0)
    est = make_estimates(12, seed=3)
    stages = [WindowStage(plan), TemporalStage(None), StitchStage(plan)]
    out: list[Message] = []
    for seq in range(12):
        visible = not 4 <= seq < 7  # frames 4, 5, 6: nobody
        out += run_chain(stages, _frame(seq, {0: {k: v[seq] for k, v in est.items()}} if visible
                                        else {}))
    out += run_chain(stages, Message(kind=EOS, seq=12))
    progress = {m.seq: m.meta["no_person"] for m in out if m.kind == "progress"}
    assert progress == {i: min(max(i - 3, 0), 3) for i in range(12)}
    params = {m.seq: m.meta["no_person"] for m in out if m.kind == "params"}
    assert sorted(params) == [0, 1, 2, 3, 7, 8, 9, 10, 11]
    assert all(n == (0 if f < 4 else 3) for f, n in params.items())


def test_body_stage_publishes_smpl_transl_and_reprojects_with_its_intrinsics() -> None:
    """joints2d are joints3d projected with the published (distorted) intrinsics, within 1 px; SMPL's
    own forward with (β, θ, transl) gives joints3d; pelvis is joints3d[0]."""
    import torch
    from stmocap.models.body.model import load_body_model
    from stmocap.models.camera import Intrinsics

    engine = open_model_engine("body")
    stage = BodyStage(engine, engine.model.module.body.faces)
    rot = np.tile(np.eye(3, dtype=np.float32), (24, 1, 1))
    rot[0] = np.diag([1.0, -1.0, -1.0])
    betas = np.linspace(-1, 1, 10).astype(np.float32)
    transl = np.array([0.3, -0.1, 3.4], np.float32)
    intr = Intrinsics(600.0, 598.0, 321.0, 238.0, (640, 480), (-0.2, 0.05, 0.001, 0.0, 0.0))
    msg = Message(kind="params", seq=0, arrays={"rotmats": rot, "betas": betas, "transl": transl,
                                                "cam": np.array([0.9, 0.0, 0.0], np.float32),
                                                "box": np.array([300, 100, 500, 400], np.float32)},
                  meta={"image_size": [640, 480], "intrinsics": intr.to_meta()})
    body = stage.handle(msg)[-1]
    a = body.arrays
    assert body.meta["intrinsics"] == intr.to_meta()
    K, dist = intr.matrix, np.array(intr.dist)
    import cv2

    uv, _ = cv2.projectPoints(a["joints3d"].astype(np.float64), np.zeros(3), np.zeros(3), K, dist)
    assert np.abs(uv[:, 0] - a["joints2d"]).max() < 1.0
    with torch.no_grad():
        out = load_body_model(None)(torch.from_numpy(rot[None]), torch.from_numpy(betas[None]),
                                    torch.from_numpy(transl[None]))
    assert np.abs(out.joints[0].numpy() - a["joints3d"]).max() < 1e-4
    assert np.array_equal(a["transl"], transl) and np.allclose(a["pelvis"], a["joints3d"][0])



@pytest.fixture(scope="module")
def lite_engine():  # type: ignore[no-untyped-def]
    """The lite temporal network (untrained): its STA mixes the frames of each window."""
    engine = open_model_engine("temporal", "lite")
    yield engine
    engine.close()


@pytest.mark.parametrize(("stride", "lookahead"), [(1, 0), (1, 7), (4, 7)])
def test_a_shot_cut_restarts_every_track_so_no_window_mixes_the_two_shots(
        lite_engine, stride: int, lookahead: int) -> None:  # type: ignore[no-untyped-def]
    """Track 7 is on both sides of a cut at frame 24 (the same id: one person, two shots), track 3
    from frame 20 on: each side must come out exactly as that side alone gives offline."""
    plan = WindowPlan(window=16, stride=stride, lookahead=lookahead)
    cut, n = 24, 44
    shots = {7: (make_estimates(cut, seed=1, feats_shape=(231,)),
                 make_estimates(n - cut, seed=2, feats_shape=(231,))),
             3: (make_estimates(cut - 20, seed=3, feats_shape=(231,)),
                 make_estimates(n - cut, seed=4, feats_shape=(231,)))}
    starts = {7: 0, 3: 20}

    def run(mark_cut: bool) -> list[Message]:
        stages = [WindowStage(plan), TemporalStage(lite_engine), StitchStage(plan)]
        out: list[Message] = []
        for seq in range(n):
            rows = {t: (a, seq - starts[t]) if seq < cut else (b, seq - cut)
                    for t, (a, b) in shots.items() if seq >= starts[t]}
            ids = sorted(rows)
            arrays = {k: np.stack([rows[t][0][k][rows[t][1]] for t in ids])
                      for k in ("pose_6d", "betas", "cam", "feats")}
            arrays |= {"track_ids": np.array(ids, np.int64),
                       "boxes": np.tile(np.array([[0, 0, 100, 200]], np.float32), (len(ids), 1))}
            meta = {"image_size": [100, 200], **({"cut": True} if mark_cut and seq == cut else {})}
            out += run_chain(stages, Message(kind="estimates", seq=seq, arrays=arrays, meta=meta))
        return out + run_chain(stages, Message(kind=EOS, seq=n))

    def matches(out: list[Message]) -> bool:
        assert [m.seq for m in out if m.kind == "progress"] == list(range(n))
        same = True
        for tid, (before, after) in shots.items():
            mine = [m for m in out if m.kind == "params" and m.track == tid]
            assert [m.seq for m in mine] == list(range(starts[tid], n))  # every frame once, in order
            for part, frames in ((before, range(starts[tid], cut)), (after, range(cut, n))):
                rot, _ = offline_reference(part, plan, lite_engine)
                got = np.stack([m.arrays["rotmats"] for m in mine if m.seq in frames])
                same &= bool(np.allclose(got, rot, atol=1e-5))
        return same

    assert matches(run(mark_cut=True))
    assert not matches(run(mark_cut=False))  # unmarked, the windows across the cut mix the shots


def test_body_stage_starts_its_floor_estimate_again_at_a_shot_cut() -> None:
    """A person standing still gives a floor contact a frame; the first frame of another shot
    (another camera) starts the estimate again instead of keeping the last shot's contacts."""
    engine = open_model_engine("body")
    stage = BodyStage(engine, engine.model.module.body.faces)
    rot = np.tile(np.eye(3, dtype=np.float32), (24, 1, 1))
    rot[0] = np.diag([1.0, -1.0, -1.0])
    arrays = {"rotmats": rot, "betas": np.zeros(10, np.float32),
              "cam": np.array([0.9, 0.0, 0.0], np.float32),
              "box": np.array([300, 100, 500, 400], np.float32),
              "transl": np.array([0.0, 0.3, 3.0], np.float32)}

    def contacts(seq: int, cut: bool = False, track: int = 0) -> int:
        meta = {"image_size": [640, 480], "t_media": seq / 30, **({"cut": True} if cut else {})}
        msg = Message(kind="params", seq=seq, track=track, arrays=dict(arrays), meta=meta)
        body = next(m for m in stage.handle(msg) if m.kind == "body")
        return int(body.meta["world_frame"]["contacts"])

    before = [contacts(seq) for seq in range(40)]
    assert before[-1] >= 30
    assert contacts(40, cut=True) == 0  # the last shot's contacts are gone (a fit needs ≥ 3)
    assert contacts(40, cut=True, track=1) == 0  # a second person on the cut frame …
    # … resets nothing again: track 0's frame 40 counts, so frames 41–43 make three contacts
    assert [contacts(seq) for seq in (41, 42, 43)] == [0, 0, 3]
    assert [contacts(seq) for seq in range(44, 80)][-1] >= 30
