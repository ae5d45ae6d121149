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


@pytest.mark.parametrize(("lookahead", "taps_ahead"), [(2, 2), (3, 2), (7, 7)])
def test_taps_with_lookahead_take_their_frames_out_of_the_graphs_wait(
        tmp_path, lookahead: int, taps_ahead: int) -> None:
    """Taps reading La frames ahead in a graph waiting L: every frame comes out once, in order,
    exactly L frames after it came in (the tail at the end of the track), and equals the taps
    applied to the whole per-frame sequence (the fit's own filter, edges repeated)."""
    import torch
    from stmocap.evaluation.linear_bound import apply_taps
    from stmocap.models.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
    from stmocap.models.temporal.taps import Taps, save_taps
    from stmocap.realtime.filters import FilterConfig

    weights = np.random.default_rng(0).normal(0, 1, taps_ahead + 5)
    weights[taps_ahead] += 1 - weights.sum()
    save_taps(tmp_path / "t.json", Taps(weights, lookahead=taps_ahead))
    plan = WindowPlan(window=8, stride=1, lookahead=lookahead)
    smoothing = FilterConfig(filter="taps", taps=tmp_path / "t.json")
    a = make_estimates(30, seed=4)
    stages = [WindowStage(plan), TemporalStage(None), StitchStage(plan, smoothing=smoothing)]
    came_out: dict[int, int] = {}
    params = []
    for seq in range(30):
        for m in run_chain(stages, _frame(seq, {5: {k: v[seq] for k, v in a.items()}})):
            if m.kind == "params":
                came_out[m.seq] = seq
                params.append(m)
    for m in run_chain(stages, Message(kind=EOS, seq=30)):
        if m.kind == "params":
            came_out[m.seq] = 30
            params.append(m)
    assert [m.seq for m in params] == list(range(30))
    assert all(came_out[t] == t + lookahead for t in range(30 - lookahead))
    rot, lin = offline_reference(a, plan, None)  # the per-frame estimates, stitched, no filter
    six = matrix_to_rotation_6d(torch.from_numpy(rot).double()).numpy()
    want = rotation_6d_to_matrix(torch.from_numpy(apply_taps(six, weights, taps_ahead))).numpy()
    np.testing.assert_allclose(np.stack([m.arrays["rotmats"] for m in params]), want, atol=1e-5)
    np.testing.assert_allclose(
        np.stack([np.concatenate([m.arrays["betas"], m.arrays["cam"]]) for m in params]),
        apply_taps(lin.astype(np.float64), weights, taps_ahead), atol=1e-5)


def test_taps_that_read_further_ahead_than_the_graph_waits_are_refused(tmp_path) -> None:
    from stmocap.models.temporal.taps import Taps, save_taps
    from stmocap.realtime.filters import FilterConfig

    save_taps(tmp_path / "t.json", Taps(np.array([0.5, 0.3, 0.2]), lookahead=2))
    smoothing = FilterConfig(filter="taps", taps=tmp_path / "t.json")
    with pytest.raises(ValueError, match="read 2 frames ahead and --lookahead is 1"):
        StitchStage(WindowPlan(window=8, lookahead=1), smoothing=smoothing)
    with pytest.raises(ValueError, match="leaving 1 for overlap averaging, and --stride 3 needs 2"):
        StitchStage(WindowPlan(window=8, stride=3, lookahead=3), smoothing=smoothing)


@pytest.mark.parametrize(("stride", "lookahead", "taps_ahead"), [(1, 2, 2), (2, 7, 5)])
def test_taps_beside_a_network_are_mixed_with_its_output(  # type: ignore[no-untyped-def]
        tmp_path, lite_engine, stride: int, lookahead: int, taps_ahead: int) -> None:
    """With a network running, --filter taps does not filter its output: the taps smooth the
    per-frame estimates and the frame published is the --taps-weight mean of the two. Two tracks,
    one ending early; every frame once, in order, L frames after it came in; each equals the
    network alone (offline stitching) mixed with the taps alone (the graph with no network):
    rotations 30 % of the way along the geodesic, the rest 0.7 / 0.3."""
    import torch
    from stmocap.models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from stmocap.models.temporal.taps import Taps, save_taps
    from stmocap.realtime.filters import FilterConfig

    weights = np.random.default_rng(1).normal(0, 0.3, taps_ahead + 6)
    weights[taps_ahead] += 1 - weights.sum()
    save_taps(tmp_path / "t.json", Taps(weights, lookahead=taps_ahead))
    plan = WindowPlan(window=16, stride=stride, lookahead=lookahead)
    taps = FilterConfig(filter="taps", taps=tmp_path / "t.json", taps_weight=0.3)
    tracks = {7: (make_estimates(40, seed=5, feats_shape=(231,)), 0),
              3: (make_estimates(12, seed=6, feats_shape=(231,)), 4)}

    def run(stages: list) -> list[Message]:  # type: ignore[type-arg]
        out: list[Message] = []
        for seq in range(40):
            rows = {t: seq - first for t, (e, first) in tracks.items()
                    if 0 <= seq - first < len(e["pose_6d"])}
            ids = sorted(rows)
            arrays = {k: np.stack([tracks[t][0][k][rows[t]] for t in ids])
                      if ids else np.zeros((0,), np.float32)
                      for k in ("pose_6d", "betas", "cam", "feats")}
            arrays |= {"track_ids": np.array(ids, np.int64),
                       "boxes": np.tile(np.array([[0, 0, 100, 200]], np.float32), (len(ids), 1))}
            for m in run_chain(stages, Message(kind="estimates", seq=seq, arrays=arrays,
                                               meta={"image_size": [100, 200]})):
                if m.kind == "params":
                    m.meta["out_at"] = seq
                    out.append(m)
        return out + [m for m in run_chain(stages, Message(kind=EOS, seq=40)) if m.kind == "params"]

    mixed = run([WindowStage(plan), TemporalStage(lite_engine),
                 StitchStage(plan, smoothing=taps, network=True)])
    alone = run([WindowStage(plan), TemporalStage(None), StitchStage(plan, smoothing=taps)])
    for tid, (est, first) in tracks.items():
        mine = [m for m in mixed if m.track == tid]
        n = len(est["pose_6d"])
        assert [m.seq for m in mine] == list(range(first, first + n))
        assert all(m.meta["out_at"] == m.seq + lookahead for m in mine if m.seq + lookahead < first + n)
        net_rot, net_lin = offline_reference(est, plan, lite_engine)
        taps_rot = np.stack([m.arrays["rotmats"] for m in alone if m.track == tid])
        r_net = torch.from_numpy(net_rot).double()
        step = matrix_to_axis_angle(r_net.transpose(-1, -2) @ torch.from_numpy(taps_rot).double())
        want = (r_net @ axis_angle_to_matrix(0.3 * step)).numpy()  # 30 % of the way to the taps'
        np.testing.assert_allclose(np.stack([m.arrays["rotmats"] for m in mine]), want, atol=1e-5)
        # a geodesic mix: 0.3 of the angle from the network's rotation, 0.7 from the taps'
        def ang(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            cos = (np.trace(np.swapaxes(a, -1, -2) @ b, axis1=-2, axis2=-1) - 1) / 2
            return np.arccos(np.clip(cos, -1, 1))

        got = np.stack([m.arrays["rotmats"] for m in mine]).astype(np.float64)
        total = ang(net_rot.astype(np.float64), taps_rot.astype(np.float64))
        big = total > 0.05
        np.testing.assert_allclose(ang(net_rot, got)[big], 0.3 * total[big], rtol=1e-3, atol=1e-4)
        taps_lin = np.stack([np.concatenate([m.arrays["betas"], m.arrays["cam"]])
                             for m in alone if m.track == tid])
        np.testing.assert_allclose(
            np.stack([np.concatenate([m.arrays["betas"], m.arrays["cam"]]) for m in mine]),
            0.7 * net_lin + 0.3 * taps_lin, atol=1e-5)
        assert not np.allclose(net_rot, taps_rot, atol=1e-3)  # the two really differ


def test_mixing_taps_into_a_network_asks_for_the_per_frame_estimates(tmp_path) -> None:
    """A windows message without the per-frame arrays is refused by name where the stitch stage
    mixes taps into a network's output, and accepted where it only stitches the network's."""
    from stmocap.models.temporal.taps import Taps, save_taps
    from stmocap.realtime.filters import FilterConfig
    from stmocap.realtime.schema import MessageError, validate

    save_taps(tmp_path / "t.json", Taps(np.array([0.5, 0.3, 0.2]), lookahead=2))
    plan = WindowPlan(window=4, lookahead=2)
    arrays = {"track_ids": np.array([0], np.int64), "boxes": np.zeros((1, 4), np.float32),
              "frame_local": np.array([3], np.int64), "win_track": np.array([0], np.int64),
              "win_start": np.array([0], np.int64), "win_tail": np.array([False]),
              "win_rot": np.tile(np.eye(3, dtype=np.float32), (1, 4, 24, 1, 1)),
              "win_lin": np.zeros((1, 4, 13), np.float32),
              "ended_tracks": np.zeros(0, np.int64), "ended_len": np.zeros(0, np.int64)}
    msg = Message(kind="windows", seq=3, arrays=arrays, meta={})
    validate(msg, [StitchStage(plan, network=True)])
    mixing = StitchStage(plan, smoothing=FilterConfig(filter="taps", taps=tmp_path / "t.json"),
                         network=True)
    with pytest.raises(MessageError, match="lacks array 'win_pose_6d'"):
        validate(msg, [mixing])
    six = np.tile(np.array([1, 0, 0, 0, 1, 0], np.float32), (1, 4, 24, 1))
    validate(Message(kind="windows", seq=3, meta={}, arrays={
        **arrays, "win_pose_6d": six, "win_betas": np.zeros((1, 4, 10), np.float32),
        "win_cam": np.zeros((1, 4, 3), np.float32)}), [mixing])
