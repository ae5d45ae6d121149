"""Load the DensePose-CSE ROI head from a detectron2 model-zoo ``.pkl`` (and write that layout).

A model-zoo file (e.g. ``densepose_rcnn_R_101_FPN_DL_soft_s1x/250713061/model_final_1d3314.pkl``)
is a pickle of ``{"model": {name: numpy array}, "__author__": ...}`` holding the whole network. The
ROI head owns the keys ``roi_heads.decoder.*``, ``roi_heads.densepose_head.*``,
``roi_heads.densepose_predictor.*`` (→ :class:`DensePoseHead` by name, prefix ``roi_heads.``
dropped) and ``roi_heads.embedder.embedder_<mesh>.*`` (→ :class:`VertexEmbedder`). Everything else
(``backbone.*``, ``proposal_generator.*``, ``roi_heads.box_*``) belongs to the detector and is
reported as ignored ("not ours").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from stmocap.models.densepose.config import R_50_FPN_S1X, CSEHeadConfig
from stmocap.models.densepose.embedder import VertexEmbedder
from stmocap.models.densepose.model import DensePoseHead
from stmocap.models.detectron.pkl import PklError, read_pkl, write_pkl
from torch import nn

HEAD_PREFIXES = ("roi_heads.decoder.", "roi_heads.densepose_head.", "roi_heads.densepose_predictor.")
EMBEDDER_PREFIX = "roi_heads.embedder."
_OURS = (*HEAD_PREFIXES, EMBEDDER_PREFIX)


class CSECheckpointError(ValueError):
    """The file is not a DensePose-CSE checkpoint that fits the head; one line per problem."""


@dataclass(frozen=True)
class LoadReport:
    """What loading a state dict did, in upstream key names.

    Attributes:
        missing: keys the head needs that the file lacks.
        unexpected: keys under the head's prefixes that the head does not have.
        mismatched: ``(key, expected shape, shape in the file)``.
        ignored: keys that are not the ROI head's (backbone, RPN, box head: the detector's).
    """

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()
    ignored: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def problems(self, source: str | Path) -> list[str]:
        """One line per problem, each naming ``source``."""
        lines = [f"{source}: missing key {k}" for k in self.missing]
        lines += [f"{source}: unexpected key {k} (not in this head's layout)" for k in self.unexpected]
        lines += [f"{source}: {k} has shape {list(got)}, the head expects {list(want)}"
                  for k, want, got in self.mismatched]
        return lines


@dataclass(frozen=True)
class LoadedCSE:
    """A loaded ROI head: its config, the head, the vertex embedder and the load report."""

    config: CSEHeadConfig
    head: DensePoseHead
    embedder: VertexEmbedder
    report: LoadReport


# --- the .pkl file (stmocap.models.detectron.pkl reads and writes it) ----------------------------

def read_model_pkl(path: str | Path) -> dict[str, np.ndarray]:
    """``name → array`` of a model-zoo ``.pkl`` (numpy arrays only; other globals are refused)."""
    try:
        return read_pkl(path).model
    except PklError as exc:
        raise CSECheckpointError(str(exc)) from None


def write_model_pkl(path: str | Path, model: Mapping[str, np.ndarray]) -> Path:
    """Write ``model`` in the model-zoo layout (``{"model": ..., "__author__": ...}``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_pkl(path, {k: np.ascontiguousarray(v) for k, v in model.items()})
    return path


# --- key layout ------------------------------------------------------------------------------------

def _embedder_prefix(mesh: str) -> str:
    return f"{EMBEDDER_PREFIX}embedder_{mesh}."


def _expected(head: nn.Module, embedder: nn.Module, mesh: str) -> dict[str, torch.Tensor]:
    """Upstream key → our tensor (parameter or buffer) for every tensor of head and embedder."""
    out = {f"roi_heads.{k}": v for k, v in head.state_dict(keep_vars=True).items()}
    out.update({_embedder_prefix(mesh) + k: v for k, v in embedder.state_dict(keep_vars=True).items()})
    return out


def to_detectron2(head: DensePoseHead, embedder: VertexEmbedder) -> dict[str, np.ndarray]:
    """The head's and embedder's tensors under detectron2's key names (float32 numpy)."""
    return {k: v.detach().cpu().float().numpy().copy()
            for k, v in _expected(head, embedder, head.cfg.mesh).items()}


def load_state(head: DensePoseHead, embedder: VertexEmbedder, model: Mapping[str, np.ndarray]
               ) -> LoadReport:
    """Copy every fitting tensor of ``model`` (upstream names) into head and embedder; report the rest."""
    expected = _expected(head, embedder, head.cfg.mesh)
    missing, mismatched = [], []
    with torch.no_grad():
        for key, target in expected.items():
            if key not in model:
                missing.append(key)
                continue
            value = np.asarray(model[key])
            if tuple(value.shape) != tuple(target.shape):
                mismatched.append((key, tuple(target.shape), tuple(value.shape)))
                continue
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(target.dtype))
    unexpected = sorted(k for k in model if k.startswith(_OURS) and k not in expected)
    ignored = sorted(k for k in model if not k.startswith(_OURS))
    return LoadReport(tuple(missing), tuple(unexpected), tuple(mismatched), tuple(ignored))


def infer_config(model: Mapping[str, np.ndarray], base: CSEHeadConfig = R_50_FPN_S1X,
                 source: str | Path = "checkpoint") -> CSEHeadConfig:
    """The head layout a state dict holds (head kind, widths, norms, mesh); pooling, dilations and
    up-scaling are not stored and come from ``base`` (the model-zoo values)."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in model:
            raise CSECheckpointError(f"{source}: missing key {key}; not a DensePose-CSE checkpoint")
        return tuple(np.shape(model[key]))

    if not any(k.startswith("roi_heads.densepose_head.") for k in model):
        raise CSECheckpointError(f"{source}: no roi_heads.densepose_head.* keys; not a DensePose "
                                 "checkpoint (a detector-only or other model?)")
    if "roi_heads.densepose_predictor.embed_lowres.weight" not in model:
        raise CSECheckpointError(f"{source}: no roi_heads.densepose_predictor.embed_lowres.weight; a "
                                 "DensePose chart (IUV) checkpoint, not CSE?")
    meshes = sorted({m.group(1) for k in model
                     if (m := re.match(r"roi_heads\.embedder\.embedder_(.+)\.features$", k))})
    if not meshes:
        raise CSECheckpointError(f"{source}: no roi_heads.embedder.embedder_<mesh>.features key")
    mesh = base.mesh if base.mesh in meshes else meshes[0]
    convs = sum(1 for k in model if re.fullmatch(r"roi_heads\.densepose_head\.body_conv_fcn\d+\.weight", k))
    head_w = shape("roi_heads.densepose_head.body_conv_fcn1.weight")
    dec_w = shape("roi_heads.decoder.p2.0.weight")
    deconv = shape("roi_heads.densepose_predictor.embed_lowres.weight")
    feats = shape(_embedder_prefix(mesh) + "features")
    deeplab = any(k.startswith("roi_heads.densepose_head.ASPP.") for k in model)
    body_norm = "GN" if "roi_heads.densepose_head.body_conv_fcn1.norm.weight" in model else ""
    return replace(
        base,
        head="deeplab" if deeplab else "v1convx",
        in_channels=dec_w[1], decoder_channels=dec_w[0],
        decoder_out=shape("roi_heads.decoder.predictor.weight")[0],
        decoder_norm="GN" if "roi_heads.decoder.p2.0.norm.weight" in model else "",
        num_convs=convs, head_dim=head_w[0], kernel=head_w[2],
        deeplab_norm=body_norm if deeplab else base.deeplab_norm,
        deconv_kernel=deconv[2], embed_size=deconv[1],
        coarse_segm_channels=shape("roi_heads.densepose_predictor.coarse_segm_lowres.weight")[1],
        mesh=mesh, num_vertices=feats[0], vertex_feature_dim=feats[1],
    )


def load_cse_checkpoint(path: str | Path, config: CSEHeadConfig | None = None, strict: bool = True,
                        base: CSEHeadConfig = R_50_FPN_S1X,
                        weights: Mapping[str, np.ndarray] | None = None) -> LoadedCSE:
    """Build the ROI head and vertex embedder of a model-zoo ``.pkl`` and load its weights.

    Args:
        path: the ``model_final_*.pkl``.
        config: the head's config; ``None`` infers it from the file (:func:`infer_config`), taking
            what the file does not store from ``base``.
        strict: raise :class:`CSECheckpointError` (one line per problem, each naming ``path``)
            on missing, unexpected or mis-shaped head keys; keys of other parts never count.
        weights: the file's arrays when the caller has read them already.
    """
    path = Path(path)
    model = read_model_pkl(path) if weights is None else weights
    cfg = config or infer_config(model, base, source=path)
    head = DensePoseHead(cfg).eval()
    embedder = VertexEmbedder(cfg.num_vertices, cfg.vertex_feature_dim, cfg.embed_size).eval()
    report = load_state(head, embedder, model)
    if strict and not report.ok:
        raise CSECheckpointError("\n".join(report.problems(path)))
    return LoadedCSE(cfg, head, embedder, report)


def check_cse_checkpoint(path: str | Path) -> None:
    """Raise :class:`CSECheckpointError` (a ``ValueError``) unless ``path`` loads strictly."""
    load_cse_checkpoint(path, strict=True)
