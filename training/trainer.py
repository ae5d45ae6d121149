"""The training loop of ``stmocap train``: deterministic, resumable, logged.

Reproducibility: the weights come from ``seed``; epoch e visits the training windows in the
order ``randperm(K, seed + e)`` from its own generator, so a step's batch depends only on the step
number; dropout draws from torch's global generator, whose state each checkpoint stores. A run
resumed from a checkpoint therefore repeats the uninterrupted run's arithmetic exactly (same
device and thread count).

Schedule (paper): Adam, learning rate × ``plateau_factor`` when the score has not improved for
``plateau_patience`` epochs. The score is the validation MPJPE (+ ``score_accel`` × ACC-ERR of
the served stream) when ``[data] val`` is given, else the epoch's mean training loss; ``best.pt``
is the epoch with the lowest score.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from stmocap.models.body.model import load_body_model
from stmocap.models.temporal.checkpoint import CheckpointError
from stmocap.models.temporal.network import TemporalNet
from stmocap.training.config import RunConfig, run_config_from_dict
from stmocap.training.data import FrameTable, concat_tables, manifest_entry, read_table, sha256_file
from stmocap.training.evaluate import JointSet, dataset_metrics, predict_table
from stmocap.training.kinematics import JointModel
from stmocap.training.losses import (
    TERMS,
    batch_from_rows,
    served_loss,
    served_rows,
    total_loss,
    training_targets,
)
from stmocap.training.state import load_training_blob, save_training_checkpoint
from stmocap.training.windows import served_positions, training_windows

# [train] fields a resumed run may change without changing its result (or only where it stops).
RESUMABLE = frozenset({"epochs", "max_steps", "out", "checkpoint_every", "tensorboard", "progress",
                       "device", "threads"})
LOG_COLUMNS = ("step", "epoch", "lr", "loss", *(f"{p}/{t}" for p in ("refined", "coarse") for t in TERMS),
               "seconds")


@dataclass(frozen=True)
class TrainResult:
    """Where a run ended: last checkpoint, steps done, final metrics."""

    checkpoint: Path
    steps: int
    metrics: dict[str, Any]


def epoch_order(num_windows: int, seed: int, epoch: int) -> torch.Tensor:
    """``(K,)`` the order epoch ``epoch`` visits the windows in (its own generator)."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(num_windows, generator=g)


def _read(paths: tuple[str, ...], run: RunConfig) -> tuple[FrameTable, list[dict[str, Any]]]:
    tables = [read_table(Path(p), run.data.format, run.data.feature_key, run.data.bbox_scale)
              for p in paths]
    return concat_tables(tables), [manifest_entry(Path(p), t) for p, t in zip(paths, tables, strict=True)]


def _check_features(table: FrameTable, run: RunConfig) -> None:
    want = run.net.feat_shape
    if tuple(table.features.shape[1:]) != want:
        raise ValueError(f"{table.source}: features are {tuple(table.features.shape[1:])} per frame, "
                         f"the '{run.train.preset}' network reads {want}")


def _body_entry(body: str) -> dict[str, str]:
    p = Path(body)
    return {"body": body, "sha256": sha256_file(p) if p.is_file() else ""}


class _Log:
    """CSV log (always) and TensorBoard (lazy, optional)."""

    def __init__(self, out: Path, resume_step: int, tensorboard: bool) -> None:
        self.path = out / "log.csv"
        rows: list[dict[str, str]] = []
        if resume_step and self.path.is_file():
            with open(self.path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= resume_step]
        self.fh = open(self.path, "w", newline="")  # noqa: SIM115 - closed in close()
        self.writer = csv.DictWriter(self.fh, fieldnames=LOG_COLUMNS, extrasaction="ignore")
        self.writer.writeheader()
        self.writer.writerows(rows)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                from stmocap.optional import MissingDependencyError

                raise MissingDependencyError("--tensorboard needs the tensorboard package: "
                                             "pip install tensorboard") from exc

            self.tb = SummaryWriter(str(out / "tensorboard"))

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow(row)
        self.fh.flush()  # `tail -f log.csv` follows a run
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch") and isinstance(v, float):
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        self.fh.close()
        if self.tb is not None:
            self.tb.close()


def _check_resume(blob: dict[str, Any], run: RunConfig, manifest: dict[str, Any], path: Path) -> None:
    old = run_config_from_dict(blob["run"])
    old_train = {k: v for k, v in dataclasses.asdict(old.train).items() if k not in RESUMABLE}
    new_train = {k: v for k, v in dataclasses.asdict(run.train).items() if k not in RESUMABLE}
    diffs = [k for k in old_train if old_train[k] != new_train[k]]
    diffs += [f"{part}.{k}" for part in ("loss", "net")
              for k, v in dataclasses.asdict(getattr(old, part)).items()
              if dataclasses.asdict(getattr(run, part))[k] != v]
    if diffs:
        raise CheckpointError(f"{path} was trained with other settings ({', '.join(diffs)}); resume "
                              "with the config it was made from")
    old_sums = [e["sha256"] for e in blob["manifest"]["train"]]
    if old_sums != [e["sha256"] for e in manifest["train"]]:
        raise CheckpointError(f"{path} was trained on other data files (SHA-256 differ)")


def train(run: RunConfig, resume: Path | None = None,
          status: Callable[[str], None] = print) -> TrainResult:
    """Train the temporal network as ``run`` says; continue from ``resume`` if given."""
    tc = run.train
    if tc.threads:
        torch.set_num_threads(tc.threads)
    if tc.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA GPU")
    device = torch.device(tc.device)
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)

    body = load_body_model(None if tc.body == "free" else tc.body)
    joints = JointModel(body).to(device)
    table, train_manifest = _read(run.data.train, run)
    _check_features(table, run)
    table = training_targets(table, joints.cpu())
    if run.data.mirror:
        from stmocap.training.augment import mirror_table

        table = concat_tables([table, mirror_table(table)])
    joints = joints.to(device)
    val = None
    val_manifest: list[dict[str, Any]] = []
    if run.data.val:
        val, val_manifest = _read(run.data.val, run)
        _check_features(val, run)
    manifest = {"train": train_manifest, "val": val_manifest, "body": _body_entry(tc.body)}
    W = run.net.window
    R = tc.served_run
    rows = training_windows(table, W + R - 1, tc.stride)  # R windows shifted by one per sample
    if len(rows) == 0:
        raise ValueError(f"no training windows: every video in {table.source} is shorter than "
                         f"{W + R - 1} frames or has no valid frame")
    pos = torch.zeros(W)
    pos[list(served_positions(W, tc.lookahead) if tc.positions == "served" else range(W))] = 1.0
    pos = pos.to(device)
    served_at = W - 1 - tc.lookahead

    torch.manual_seed(tc.seed)
    net = TemporalNet(run.net).to(device)
    for name, part in net.named_children():
        part.requires_grad_(not tc.train_only or name in tc.train_only)
    if tc.train_only and tc.pass_through:
        net.pass_through([n for n, _ in net.named_children() if n not in tc.train_only])
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=tc.lr,
                           weight_decay=tc.weight_decay)
    plateau = {"best": math.inf, "bad_epochs": 0, "lr": tc.lr}
    sums: dict[str, float] = {}
    step, metrics = 0, {}
    if resume is not None:
        blob = load_training_blob(Path(resume), map_location=str(device))
        _check_resume(blob, run, manifest, Path(resume))
        net.load_state_dict(blob["state_dict"])
        opt.load_state_dict(blob["state"]["optimizer"])
        plateau, sums = dict(blob["state"]["plateau"]), dict(blob["state"]["epoch_sums"])
        step, metrics = int(blob["state"]["step"]), dict(blob["metrics"])
        torch.set_rng_state(blob["state"]["rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in blob["state"]:
            torch.cuda.set_rng_state(blob["state"]["cuda_rng"].cpu())

    K, B = len(rows), tc.batch_size
    per_epoch = math.ceil(K / B)
    total = tc.epochs * per_epoch
    if tc.max_steps:
        total = min(total, tc.max_steps)
    log = _Log(out, step, tc.tensorboard)
    last = out / "last.pt"

    def save(path: Path) -> Path:
        state = {"step": step, "optimizer": opt.state_dict(), "plateau": plateau, "epoch_sums": sums,
                 "rng": torch.get_rng_state()}
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        return save_training_checkpoint(net, path, run.to_dict(), manifest, metrics, state)

    from tqdm import tqdm

    what = f"{K} windows of {W}" if R == 1 else f"{K} runs of {R} windows of {W}"
    status(f"training '{tc.preset}' on {len(table)} frames ({what}), {per_epoch} steps per "
           f"epoch, steps {step}..{total} on {device}")
    bar = tqdm(total=total, initial=step, unit="step", disable=not tc.progress, desc="train")
    t0 = time.perf_counter()
    try:
        while step < total:
            epoch, i = divmod(step, per_epoch)
            idx = epoch_order(K, tc.seed, epoch)[i * B:(i + 1) * B].numpy()
            batch = batch_from_rows(table, served_rows(rows[idx], W), device)
            net.train()
            res = net(batch["feats"], batch["pose_6d"], batch["cam"])
            loss, logged = total_loss(res, batch, pos, joints, run.loss)
            for term, value in served_loss(res.refined, batch, R, served_at, joints, run.loss).items():
                loss = loss + getattr(run.loss, term) * value
                logged[f"refined/{term}"] = float(value.detach())
            logged["loss"] = float(loss.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), tc.grad_clip)
            opt.step()
            step += 1
            for k, v in logged.items():
                sums[k] = sums.get(k, 0.0) + v
            sums["_n"] = sums.get("_n", 0.0) + 1
            log.write({"step": step, "epoch": epoch, "lr": opt.param_groups[0]["lr"], **logged,
                       "seconds": round(time.perf_counter() - t0, 3)})
            bar.update(1)
            bar.set_postfix(loss=f"{logged['loss']:.4g}", epoch=epoch)
            if step % per_epoch == 0:
                metrics = _end_epoch(net, val, body, run, device, sums, epoch, opt, plateau)
                sums = {}
                if val is not None and metrics["score"] <= plateau["best"]:
                    save(out / "best.pt")
            if step % tc.checkpoint_every == 0 or step == total:
                save(last)
    finally:
        bar.close()
        log.close()
    if not last.is_file() or step == 0:
        save(last)
    return TrainResult(last, step, metrics)


def _end_epoch(net: TemporalNet, val: FrameTable | None, body: Any, run: RunConfig,
               device: torch.device, sums: dict[str, float], epoch: int, opt: torch.optim.Optimizer,
               plateau: dict[str, float]) -> dict[str, Any]:
    """Epoch metrics, then the plateau schedule (updates ``plateau`` and the optimiser's lr)."""
    n = max(sums.get("_n", 1.0), 1.0)
    metrics: dict[str, Any] = {"epoch": epoch, "train": {k: v / n for k, v in sums.items() if k != "_n"}}
    score = metrics["train"]["loss"]
    if val is not None:
        position = max(0, run.net.window - 1 - run.train.lookahead)
        preds = predict_table(net, val, position, device=device)
        preds = {k: v for k, v in preds.items() if k == "refined"}
        metrics["val"], _ = dataset_metrics(preds, val, JointSet(body))
        v = metrics["val"]["refined"]
        score = v["MPJPE"] + run.train.score_accel * v["ACC-ERR"]
    if score < plateau["best"]:
        plateau["best"], plateau["bad_epochs"] = float(score), 0
    else:
        plateau["bad_epochs"] += 1
        if plateau["bad_epochs"] >= run.train.plateau_patience:
            plateau["lr"] *= run.train.plateau_factor
            plateau["bad_epochs"] = 0
            for g in opt.param_groups:
                g["lr"] = plateau["lr"]
    metrics["lr"], metrics["score"] = plateau["lr"], float(score)
    return metrics


def weights_equal(a: TemporalNet, b: TemporalNet) -> bool:
    """True when both networks hold bit-identical tensors."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

