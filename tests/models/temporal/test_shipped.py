"""The shipped lite temporal weights: what they carry, when a run uses them, a still person."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from stmocap.models.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
from stmocap.models.temporal.checkpoint import load_checkpoint
from stmocap.models.temporal.shipped import WINDOW, shipped_checkpoint, shipped_lookaheads
from stmocap.realtime.pipeline import PipelineConfig, TemporalConfig, resolve_shipped_temporal
from stmocap.realtime.windows import WindowPlan


def test_shipped_files_carry_their_record() -> None:
    assert shipped_lookaheads() == (2, 7)
    for L in shipped_lookaheads():
        path = shipped_checkpoint(L)
        assert path is not None and path.stat().st_size < 4e6
        blob = torch.load(path, weights_only=True)
        assert "state" not in blob  # no optimiser: released, not resumable
        assert blob["run"]["train"]["lookahead"] == L
        assert blob["run"]["train"]["train_only"] == ["sta"] or blob["run"]["train"]["train_only"] == ("sta",)
        assert blob["config"]["sta_position_bias"] and blob["config"]["regressor_start"] == "aggregated"
        assert {f["sha256"] for f in blob["manifest"]["train"]} and blob["manifest"]["val"]
        assert set(blob["metrics"]["val"]["refined"]) == {"PA-MPJPE", "MPJPE", "MPVPE", "ACC-ERR"}
        net = load_checkpoint(path)
        # L = 2 reads the landmark network's embedding too (the tenth session's release)
        assert net.cfg.feat_shape == ((1383,) if L == 2 else (231,)) and net.cfg.window == WINDOW == 16
    assert shipped_checkpoint(4) is None


def _still_frame(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One plausible frame as the lite profile sees it: the free body upright 3.4 m before a
    600 px pinhole camera (640×480), every joint turned by up to 0.3 rad per axis; its synthetic
    BlazePose landmarks → features ``(231,)`` and the closed-form IK's rotations ``(24, 3, 3)``."""
    import numpy as np
    from stmocap.models.body.free_body import load_free_body
    from stmocap.models.body.model import LBSBody
    from stmocap.models.ik.analytic import AnalyticSolver
    from stmocap.models.ik.correspondence import joint_targets, landmarks_from_joints
    from stmocap.models.ik.solver import Skeleton
    from stmocap.models.rotations import axis_angle_to_matrix
    from stmocap.models.temporal.features import blazepose_features

    data = load_free_body()
    g = torch.Generator().manual_seed(seed)
    aa = (torch.rand(1, 24, 3, generator=g) * 2 - 1) * 0.3
    aa[0, 0] = torch.tensor([np.pi, 0.0, 0.0])  # upright in the camera frame (y down)
    with torch.no_grad():
        j = LBSBody(data)(axis_angle_to_matrix(aa), torch.zeros(1, 10)).joints[0].double().numpy()
    world = landmarks_from_joints(j - (j[1] + j[2]) / 2)  # (33, 3), hip-centred, metres
    f, w, h, depth = 600.0, 640, 480, 3.4
    px = world[:, :2] / (world[:, 2:] + depth) * f + [w / 2, h / 2]
    centre, side = (px.min(0) + px.max(0)) / 2, (px.max(0) - px.min(0)).max() * 0.6
    box = np.concatenate([centre - side, centre + side])
    image = np.concatenate([px / [w, h], world[:, 2:] * f / depth / w, np.ones((33, 1))], -1)
    targets, weights = joint_targets(world.astype(np.float32), np.ones(33, np.float32))
    rot = AnalyticSolver(Skeleton(data))(targets, weights).rotmats
    return torch.from_numpy(blazepose_features(image, world, box, (w, h))), torch.from_numpy(rot).float()


def _astronaut_embedding() -> torch.Tensor:
    """The landmark network's feature map ``(1152,)`` on scikit-image's astronaut photo."""
    from skimage import data
    from stmocap.models.blazepose.graph import LANDMARK_EMBEDDING, LANDMARK_OUTPUTS, load_graph
    from stmocap.models.blazepose.pipeline import BlazePose

    tapped = load_graph("pose_landmark_full", outputs=LANDMARK_OUTPUTS, taps=(LANDMARK_EMBEDDING,))
    result = BlazePose(track=False, landmarker=tapped)(data.astronaut())
    assert result is not None and result.embedding is not None
    return torch.from_numpy(result.embedding)


@pytest.mark.parametrize("L", [2, 7])
def test_the_learned_weighting_favours_the_served_frames_neighbours(L: int) -> None:
    """Sixteen identical frames make every similarity map uniform, so the served row of the STA
    weighting is the learned position kernel alone: it peaks next to the served frame (more
    than a flat average's 3/16 on it and its two neighbours) and leaves the window's far end
    almost out. On a plausible still person the output keeps the input pose to within what g's
    fixed corrections add (≤ 13° per joint measured on these frames; random features and random
    joint rotations, which no render produces, drew up to 40°)."""
    net = load_checkpoint(shipped_checkpoint(L))
    cam = torch.tensor([[[0.9, 0.0, 0.1]]]).expand(1, 16, -1)
    k = 15 - L
    for seed in range(3):
        feats, R = _still_frame(seed)
        if net.cfg.feat_channels > feats.numel():  # a real person's landmark embedding after them
            feats = torch.cat([feats, _astronaut_embedding()])
        pose = matrix_to_rotation_6d(R).reshape(1, 1, 144).expand(1, 16, -1)
        with torch.no_grad():
            out = net(feats.reshape(1, 1, -1).expand(1, 16, -1), pose, cam)
        w = out.weights[0, k]
        torch.testing.assert_close(w, torch.softmax(net.sta.position_bias[k] + net.sta.phi6.bias
                                                    + net.sta.phi6.weight.sum() / 16, -1).detach())
        assert w[k - 1: k + 2].sum() > 3 / 16 and w[0] < 1 / 16
        got = rotation_6d_to_matrix(out.refined.pose_6d[0, k])
        cos = ((torch.einsum("jab,jab->j", got, R) - 1) / 2).clamp(-1, 1)
        assert torch.rad2deg(torch.arccos(cos)).max() < 18.0, seed


def test_runs_use_them_only_where_meant() -> None:
    net = replace(PipelineConfig(), temporal=TemporalConfig(temporal="net"), plan=WindowPlan(lookahead=7))
    got = resolve_shipped_temporal(net)
    # the shipped network with the shipped taps for its lookahead (mixed with its output)
    assert got.temporal.checkpoint == shipped_checkpoint(7) and got.smoothing.filter == "taps"
    # the default, --temporal auto: the network where weights ship for the lookahead, else none
    # with a filter (--filter auto: the learned taps where they ship for the lookahead, One-Euro
    # elsewhere); the result never says auto, and resolving twice changes nothing
    base = PipelineConfig()
    assert base.temporal.temporal == "auto" and base.plan.lookahead == 0
    assert base.smoothing.filter == "auto"
    none = resolve_shipped_temporal(base)
    assert none == replace(base, temporal=replace(base.temporal, temporal="none"),
                           smoothing=replace(base.smoothing, filter="taps"))
    assert resolve_shipped_temporal(none) == none
    euro = replace(base, smoothing=replace(base.smoothing, filter="one-euro"))
    assert resolve_shipped_temporal(euro).smoothing.filter == "one-euro"  # asked for: kept
    from stmocap.models.temporal.taps import SHIPPED

    mine_taps = replace(base, plan=WindowPlan(lookahead=4), smoothing=replace(base.smoothing, taps=SHIPPED))
    assert resolve_shipped_temporal(mine_taps).smoothing.filter == "taps"  # --taps FILE alone
    auto7 = resolve_shipped_temporal(replace(base, plan=WindowPlan(lookahead=7)))
    assert auto7 == got and resolve_shipped_temporal(auto7) == auto7
    r = resolve_shipped_temporal(replace(base, plan=WindowPlan(lookahead=4)))  # nothing ships for 4
    assert r.temporal.temporal == "none" and r.smoothing.filter == "one-euro"
    r = resolve_shipped_temporal(replace(base, plan=WindowPlan(window=8, lookahead=7)))
    assert r.temporal.temporal == "none" and r.smoothing.filter == "taps"  # no network: the taps
    # the shipped network alone (--filter none), the taps alone (--temporal none); a One-Euro
    # filter after a shipped network only adds lag: off
    for flt, temporal, want in (("none", "auto", ("net", "none")), ("auto", "none", ("none", "taps")),
                                ("one-euro", "auto", ("net", "none"))):
        r = resolve_shipped_temporal(replace(base, plan=WindowPlan(lookahead=2),
                                             temporal=TemporalConfig(temporal=temporal),
                                             smoothing=replace(base.smoothing, filter=flt)))
        assert (r.temporal.temporal, r.smoothing.filter) == want, (flt, temporal)
    # the shipped taps read all L frames ahead: with a stride > 1 the network runs alone
    r = resolve_shipped_temporal(replace(base, plan=WindowPlan(stride=2, lookahead=2)))
    assert (r.temporal.temporal, r.smoothing.filter) == ("net", "none")
    mine = resolve_shipped_temporal(replace(base, temporal=TemporalConfig(checkpoint=shipped_checkpoint(2))))
    assert mine.temporal.temporal == "net" and mine.smoothing.filter == "one-euro"  # the user's filter
    paper_auto = replace(base, perframe=replace(base.perframe, profile="paper"))
    for plan in (WindowPlan(lookahead=0), WindowPlan(lookahead=7)):
        r = resolve_shipped_temporal(replace(paper_auto, plan=plan))
        assert r.temporal.temporal == "none" and r.smoothing.filter == "one-euro"
    explicit = replace(net, temporal=TemporalConfig(temporal="net", preset="lite"),
                       smoothing=replace(net.smoothing, filter="one-euro"))
    assert resolve_shipped_temporal(explicit) == explicit  # an untrained network on purpose
    own = replace(explicit, temporal=TemporalConfig(temporal="net", checkpoint=shipped_checkpoint(2)))
    assert resolve_shipped_temporal(own) == own  # the user's checkpoint, the user's filter
    with pytest.raises(ValueError, match=r"no shipped weights for --lookahead 4 \(shipped: 2, 7\)"):
        resolve_shipped_temporal(replace(net, plan=WindowPlan(lookahead=4)))
    paper = replace(explicit, perframe=replace(net.perframe, profile="paper"))
    assert resolve_shipped_temporal(paper) == paper


def test_the_default_runs_send_the_embedding_only_where_the_network_reads_it() -> None:
    """The shipped L = 2 network reads the landmark network's embedding, L = 7's does not: the
    default run turns the embedding on at L = 2 alone (and never at L = 0, the filter)."""
    from stmocap.realtime.pipeline import landmark_embedding_for

    wants = {L: landmark_embedding_for(resolve_shipped_temporal(
        replace(PipelineConfig(), plan=WindowPlan(lookahead=L)))) for L in (0, 2, 7)}
    assert wants == {0: False, 2: True, 7: False}
