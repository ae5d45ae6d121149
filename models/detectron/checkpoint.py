"""detectron2 parameter names → this package's Faster R-CNN modules.

Our module tree mirrors GeneralizedRCNN's (``backbone``, ``proposal_generator.rpn_head``,
``roi_heads.box_head``, ``roi_heads.box_predictor``), so a detectron2 name maps onto the same name
here. Keys of the DensePose ROI head (``roi_heads.decoder.*``, ``roi_heads.densepose_*``,
``roi_heads.embedder.*``) belong to ``stmocap.models.detectron``'s DensePose head and are reported as
``not_ours``; detectron2's non-learned buffers (anchors, pixel mean/std) as ``ignored``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stmocap.models.detectron.pkl import PklError, read_pkl
from torch import nn

OUR_PREFIXES = ("backbone.bottom_up.", "backbone.fpn_", "proposal_generator.rpn_head.",
                "roi_heads.box_head.", "roi_heads.box_predictor.")
NOT_OURS_PREFIXES = ("roi_heads.decoder.", "roi_heads.densepose_", "roi_heads.embedder.")
IGNORED = ("proposal_generator.anchor_generator.cell_anchors.", "pixel_mean", "pixel_std")


class CheckpointError(PklError):
    """Strict loading failed: missing, unexpected or wrongly shaped keys (one line per kind)."""


@dataclass(frozen=True)
class LoadReport:
    """What loading did. missing: our keys absent from the file; unexpected: file keys nobody owns;
    mismatched: (name, file shape, our shape); ignored: non-learned detectron2 buffers; not_ours:
    DensePose-head keys left for that head's loader."""

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]
    ignored: tuple[str, ...]
    not_ours: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def errors(self, source: str) -> list[str]:
        """One line per kind of problem, each naming ``source``."""
        out = []
        if self.missing:
            out.append(f"{source}: {len(self.missing)} missing keys: {_few(self.missing)}")
        if self.unexpected:
            out.append(f"{source}: {len(self.unexpected)} unexpected keys: {_few(self.unexpected)}")
        if self.mismatched:
            items = [f"{n} {tuple(a)} vs ours {tuple(b)}" for n, a, b in self.mismatched]
            out.append(f"{source}: {len(self.mismatched)} keys of the wrong shape: {_few(items)}")
        return out


def _few(items: tuple[str, ...] | list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", … (+{len(items) - n})" if len(items) > n else "")


def map_name(d2_name: str) -> str | None:
    """Our state-dict name for a detectron2 detector key, or None if it is not a detector key."""
    return d2_name if d2_name.startswith(OUR_PREFIXES) else None


def load_state(model: nn.Module, weights: dict[str, np.ndarray], source: str = "<weights>",
               strict: bool = True) -> LoadReport:
    """Copy detectron2-named arrays into ``model`` (a ``FasterRCNN``); returns a :class:`LoadReport`.
    ``strict``: raise :class:`CheckpointError` (one line per kind of problem) unless it is ok."""
    ours = model.state_dict()
    missing = set(ours)
    unexpected, mismatched, ignored, not_ours = [], [], [], []
    new: dict[str, torch.Tensor] = {}
    for key, arr in weights.items():
        if key.startswith(NOT_OURS_PREFIXES):
            not_ours.append(key)
            continue
        if key.startswith(IGNORED):
            ignored.append(key)
            continue
        name = map_name(key)
        if name is None or name not in ours:
            unexpected.append(key)
            continue
        missing.discard(name)
        if tuple(arr.shape) != tuple(ours[name].shape):
            mismatched.append((key, tuple(arr.shape), tuple(ours[name].shape)))
            continue
        new[name] = torch.from_numpy(np.array(arr, dtype=np.float32))
    report = LoadReport(tuple(sorted(missing)), tuple(sorted(unexpected)), tuple(mismatched),
                        tuple(sorted(ignored)), tuple(sorted(not_ours)))
    if strict and not report.ok:
        raise CheckpointError("\n".join(report.errors(source)))
    model.load_state_dict(new, strict=False)
    return report


def load_pkl(model: nn.Module, path: str | Path, strict: bool = True) -> LoadReport:
    """Read a model-zoo ``.pkl`` and load its detector keys into ``model``."""
    return load_state(model, read_pkl(path).model, str(path), strict)


def upstream_state(model: nn.Module) -> dict[str, np.ndarray]:
    """``model``'s weights under detectron2's names (float32 numpy), e.g. for :func:`write_pkl`."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}


def backbone_preset(weights: dict[str, np.ndarray]) -> str:
    """``"R_101_FPN"`` or ``"R_50_FPN"`` for a model-zoo checkpoint's arrays: ResNet-101 has 23
    res4 blocks, ResNet-50 six."""
    deep = any(k.startswith("backbone.bottom_up.res4.22.") for k in weights)
    return "R_101_FPN" if deep else "R_50_FPN"
