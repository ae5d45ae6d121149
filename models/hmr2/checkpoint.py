"""Load 4D-Humans' HMR2.0 Lightning checkpoint into :class:`~stmocap.models.hmr2.model.HMR2`, strictly.

Upstream layout (``hmr2_data.tar.gz``)::

    .../hmr2/0/model_config.yaml
    .../hmr2/0/checkpoints/epoch=35-step=1000000.ckpt

The ``.ckpt`` is a Lightning dict whose ``state_dict`` holds ``backbone.*`` (the ViT) and
``smpl_head.*`` (the decoder head and its mean-parameter buffers ``init_body_pose``,
``init_betas``, ``init_cam``), plus training-only entries that are ignored and listed in the
report: ``discriminator.*``, ``smpl.*`` (the SMPL layer's buffers) and ``initialized``.

Safety: the file is first read with ``torch.load(weights_only=True)``. Lightning checkpoints also
pickle Python objects (4D-Humans stores its yacs config under ``hyper_parameters``), which that
refuses; the file is then re-read with :class:`_InertUnpickler`, which only rebuilds tensors and
turns every other global the pickle names into an inert placeholder: no constructor or function
chosen by the file ever runs.

Sizes come from ``model_config.yaml`` (upstream's yacs dump): the head from
``MODEL.SMPL_HEAD.TRANSFORMER_DECODER``, the crop from ``MODEL.IMAGE_SIZE`` and
``MODEL.BBOX_SHAPE``. Upstream hard-codes the ViT-H backbone; stmocap's own test files add
``MODEL.BACKBONE.{WIDTH, DEPTH, HEADS}`` for smaller backbones (upstream's yacs accepts and ignores
them).
"""

from __future__ import annotations

import pickle
import re
import types
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from stmocap.models.hmr2.config import FULL, HMR2Config
from stmocap.models.hmr2.model import HMR2
from stmocap.models.hmr2.preprocess import IMAGENET_MEAN, IMAGENET_STD
from torch import Tensor

CKPT_NAME = "epoch=35-step=1000000.ckpt"
IGNORED_PREFIXES = ("discriminator.", "smpl.")
IGNORED_KEYS = ("initialized",)

# stmocap name pattern → upstream name (group 1 is the block/layer index).
_LAYER = r"smpl_head.transformer.transformer.layers.\1"
_RULES: tuple[tuple[str, str], ...] = (
    (r"backbone\.patch_embed\.(weight|bias)", r"backbone.patch_embed.proj.\1"),
    (r"backbone\.pos_table", "backbone.pos_embed"),
    (r"backbone\.blocks\.(\d+)\.ln_attn\.(\w+)", r"backbone.blocks.\1.norm1.\2"),
    (r"backbone\.blocks\.(\d+)\.attn\.qkv\.(\w+)", r"backbone.blocks.\1.attn.qkv.\2"),
    (r"backbone\.blocks\.(\d+)\.attn\.out\.(\w+)", r"backbone.blocks.\1.attn.proj.\2"),
    (r"backbone\.blocks\.(\d+)\.ln_mlp\.(\w+)", r"backbone.blocks.\1.norm2.\2"),
    (r"backbone\.blocks\.(\d+)\.mlp\.fc_in\.(\w+)", r"backbone.blocks.\1.mlp.fc1.\2"),
    (r"backbone\.blocks\.(\d+)\.mlp\.fc_out\.(\w+)", r"backbone.blocks.\1.mlp.fc2.\2"),
    (r"backbone\.norm\.(\w+)", r"backbone.last_norm.\1"),
    (r"head\.mean_pose", "smpl_head.init_body_pose"),
    (r"head\.mean_betas", "smpl_head.init_betas"),
    (r"head\.mean_cam", "smpl_head.init_cam"),
    (r"head\.token_embed\.(\w+)", r"smpl_head.transformer.to_token_embedding.\1"),
    (r"head\.token_pos", "smpl_head.transformer.pos_embedding"),
    *((rf"head\.layers\.(\d+)\.{ours}\.(\w+)", rf"{_LAYER}.{theirs}.\2") for ours, theirs in (
        ("ln_self", "0.norm"), ("self_attn\\.qkv", "0.fn.to_qkv"), ("self_attn\\.out", "0.fn.to_out.0"),
        ("ln_cross", "1.norm"), ("cross_attn\\.q", "1.fn.to_q"), ("cross_attn\\.kv", "1.fn.to_kv"),
        ("cross_attn\\.out", "1.fn.to_out.0"), ("ln_mlp", "2.norm"), ("mlp\\.fc_in", "2.fn.net.0"),
        ("mlp\\.fc_out", "2.fn.net.3"))),
    (r"head\.pose_out\.(\w+)", r"smpl_head.decpose.\1"),
    (r"head\.betas_out\.(\w+)", r"smpl_head.decshape.\1"),
    (r"head\.cam_out\.(\w+)", r"smpl_head.deccam.\1"),
)


def upstream_name(name: str) -> str:
    """stmocap state-dict key → the 4D-Humans key of the same tensor."""
    for pattern, target in _RULES:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, target, name)
    raise KeyError(f"no upstream name for {name!r}")


@dataclass(frozen=True)
class LoadReport:
    """Upstream keys the model needs but the file lacks (``missing``), keys of the file that fit
    nothing (``unexpected``), ``(key, file shape, model shape)`` mismatches, and training-only keys
    skipped on purpose (``ignored``)."""

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched_shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]
    ignored: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched_shapes)

    def problems(self) -> list[str]:
        return ([f"missing key {k}" for k in self.missing]
                + [f"unexpected key {k}" for k in self.unexpected]
                + [f"shape of {k} is {tuple(a)} in the file, the model needs {tuple(b)}"
                   for k, a, b in self.mismatched_shapes])


# --- safe reading of Lightning files --------------------------------------------------------------

class _Inert(dict):
    """Stands in for any object the pickle names; records what it was given, runs nothing."""

    origin = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return dict.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert(*args)

    def append(self, item: Any) -> None:
        self.setdefault("_items", []).append(item)

    def extend(self, items: Any) -> None:
        self.setdefault("_items", []).extend(items)

    def __repr__(self) -> str:
        return f"<inert {self.origin}>"


_TENSOR_GLOBALS = {
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"), ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"), ("collections", "OrderedDict"),
    ("torch", "Size"),
}


class _InertUnpickler(pickle.Unpickler):
    """Rebuilds tensors (through torch's own helpers) and plain containers; every other global
    becomes a fresh :class:`_Inert` subclass, so e.g. ``os.system`` is never looked up."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _TENSOR_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return type(f"Inert_{name}", (_Inert,), {"origin": f"{module}.{name}"})


_INERT_PICKLE = types.ModuleType("stmocap_inert_pickle")
_INERT_PICKLE.Unpickler = _InertUnpickler  # type: ignore[attr-defined]
_INERT_PICKLE.load = pickle.load  # type: ignore[attr-defined]  (torch only uses it for legacy files)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's top-level dict, tensors memory-mapped; never executes code from the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        pass  # a Lightning file with pickled Python objects: read it again, inertly
    except Exception as exc:  # torch raises many types for files that are not checkpoints
        raise ValueError(f"{path}: not a torch checkpoint ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=False, mmap=True,
                          pickle_module=_INERT_PICKLE)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable torch checkpoint ({type(exc).__name__})") from exc


# --- model_config.yaml ----------------------------------------------------------------------------

def _get(d: dict[str, Any], dotted: str, default: Any = None) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return default
        d = d[part]
    return d


def config_from_yaml(data: dict[str, Any], source: str = "model_config.yaml") -> HMR2Config:
    """Upstream's config mapping (``yaml.safe_load`` of ``model_config.yaml``) → :class:`HMR2Config`."""
    def bad(msg: str) -> ValueError:
        return ValueError(f"{source}: {msg}")

    if not isinstance(data, dict) or not isinstance(data.get("MODEL"), dict):
        raise bad("no MODEL section (is this 4D-Humans' model_config.yaml?)")
    if _get(data, "MODEL.BACKBONE.TYPE", "vit") != "vit":
        raise bad(f"backbone {_get(data, 'MODEL.BACKBONE.TYPE')!r} is not supported (only 'vit')")
    if _get(data, "MODEL.SMPL_HEAD.TYPE", "transformer_decoder") != "transformer_decoder":
        raise bad(f"SMPL head {_get(data, 'MODEL.SMPL_HEAD.TYPE')!r} is not supported")
    if _get(data, "MODEL.SMPL_HEAD.TRANSFORMER_INPUT", "zero") != "zero":
        raise bad("MODEL.SMPL_HEAD.TRANSFORMER_INPUT other than 'zero' is not supported")
    if _get(data, "MODEL.SMPL_HEAD.JOINT_REP", "6d") != "6d":
        raise bad("MODEL.SMPL_HEAD.JOINT_REP other than '6d' is not supported")
    for key, want in (("MODEL.IMAGE_MEAN", IMAGENET_MEAN), ("MODEL.IMAGE_STD", IMAGENET_STD)):
        got = _get(data, key, list(want))
        if len(got) != 3 or any(abs(float(a) - b) > 1e-6 for a, b in zip(got, want, strict=False)):
            raise bad(f"{key} {got} is not ImageNet's {list(want)} (the only one supported)")
    dec = _get(data, "MODEL.SMPL_HEAD.TRANSFORMER_DECODER", {}) or {}
    if dec.get("norm", "layer") != "layer":
        raise bad(f"decoder norm {dec.get('norm')!r} is not supported (only 'layer')")
    side = int(_get(data, "MODEL.IMAGE_SIZE", FULL.crop_size))
    bw, bh = _get(data, "MODEL.BBOX_SHAPE", [192, 256]) or [192, 256]
    width = round(side * float(bw) / float(bh))
    backbone = _get(data, "MODEL.BACKBONE", {}) or {}
    try:
        return replace(
            FULL, crop_size=side, image_height=side, image_width=width,
            width=int(backbone.get("WIDTH", FULL.width)), depth=int(backbone.get("DEPTH", FULL.depth)),
            heads=int(backbone.get("HEADS", FULL.heads)),
            decoder_depth=int(dec.get("depth", FULL.decoder_depth)),
            decoder_width=int(dec.get("dim", FULL.decoder_width)),
            decoder_heads=int(dec.get("heads", FULL.decoder_heads)),
            decoder_head_dim=int(dec.get("dim_head", FULL.decoder_head_dim)),
            decoder_mlp=int(dec.get("mlp_dim", FULL.decoder_mlp)),
            ief_iterations=int(_get(data, "MODEL.SMPL_HEAD.IEF_ITERS", FULL.ief_iterations)),
            body_joints=int(_get(data, "SMPL.NUM_BODY_JOINTS", FULL.body_joints)),
            focal_length=float(_get(data, "EXTRA.FOCAL_LENGTH", FULL.focal_length)),
        )
    except ValueError as exc:
        raise bad(str(exc)) from exc


def config_to_yaml(cfg: HMR2Config) -> dict[str, Any]:
    """:class:`HMR2Config` → the parts of upstream's ``model_config.yaml`` that fix the network.

    Non-ViT-H backbones add ``MODEL.BACKBONE.{WIDTH, DEPTH, HEADS}`` (stmocap's keys)."""
    if (cfg.patch, cfg.patch_padding, cfg.mlp_ratio, cfg.token_dim) != (16, 2, 4.0, 1):
        raise ValueError("only the patch/padding/mlp-ratio/token sizes of upstream can be written")
    backbone: dict[str, Any] = {"TYPE": "vit"}
    if (cfg.width, cfg.depth, cfg.heads) != (FULL.width, FULL.depth, FULL.heads):
        backbone |= {"WIDTH": cfg.width, "DEPTH": cfg.depth, "HEADS": cfg.heads}
    return {
        "MODEL": {
            "IMAGE_SIZE": cfg.crop_size,
            "IMAGE_MEAN": list(IMAGENET_MEAN), "IMAGE_STD": list(IMAGENET_STD),
            "BBOX_SHAPE": [cfg.image_width * 256 // cfg.crop_size, 256],
            "BACKBONE": backbone,
            "SMPL_HEAD": {
                "TYPE": "transformer_decoder", "IN_CHANNELS": 2048, "IEF_ITERS": cfg.ief_iterations,
                "TRANSFORMER_DECODER": {
                    "depth": cfg.decoder_depth, "heads": cfg.decoder_heads, "mlp_dim": cfg.decoder_mlp,
                    "dim_head": cfg.decoder_head_dim, "dropout": 0.0, "emb_dropout": 0.0,
                    "norm": "layer", "context_dim": cfg.width, "dim": cfg.decoder_width,
                },
            },
        },
        "SMPL": {"NUM_BODY_JOINTS": cfg.body_joints, "GENDER": "neutral"},
        "EXTRA": {"FOCAL_LENGTH": cfg.focal_length},
    }


def _yaml() -> Any:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml is a core dependency
        raise ImportError("reading model_config.yaml needs PyYAML: pip install pyyaml") from exc
    return yaml


def read_config(path: Path) -> HMR2Config:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: HMR2.0 model config not found (it lies two folders above the "
                         "checkpoint in 4D-Humans' data; pass it explicitly otherwise)")
    try:
        data = _yaml().safe_load(path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise ValueError(f"{path}: not a YAML file ({type(exc).__name__})") from exc
    return config_from_yaml(data, str(path))


# --- loading and writing --------------------------------------------------------------------------

def match_state_dict(model: HMR2, upstream: dict[str, Tensor]) -> tuple[dict[str, Tensor], LoadReport]:
    """Map an upstream ``state_dict`` onto ``model``'s names; the tensors that fit, and the report."""
    ours = model.state_dict()
    by_upstream = {upstream_name(k): k for k in ours}
    ignored = sorted(k for k in upstream if k.startswith(IGNORED_PREFIXES) or k in IGNORED_KEYS)
    skip = set(ignored)
    missing = sorted(u for u in by_upstream if u not in upstream)
    unexpected = sorted(k for k in upstream if k not in by_upstream and k not in skip)
    fitted: dict[str, Tensor] = {}
    mismatched = []
    for u, k in by_upstream.items():
        if u not in upstream:
            continue
        t = upstream[u]
        if not isinstance(t, Tensor):
            mismatched.append((u, (), tuple(ours[k].shape)))
        elif tuple(t.shape) != tuple(ours[k].shape):
            mismatched.append((u, tuple(t.shape), tuple(ours[k].shape)))
        else:
            fitted[k] = t
    return fitted, LoadReport(tuple(missing), tuple(unexpected), tuple(sorted(mismatched)), tuple(ignored))


def load_hmr2(ckpt_path: Path, config_yaml: Path | None = None, strict: bool = True
              ) -> tuple[HMR2, LoadReport]:
    """4D-Humans checkpoint → ``(HMR2 in eval mode, LoadReport)``.

    ``config_yaml`` defaults to ``model_config.yaml`` two folders above ``ckpt_path``. With
    ``strict`` any missing, unexpected or mis-shaped key raises ``ValueError``: the first line
    names the file, the first problem and the count, then one line per problem. Without it the
    tensors that fit are loaded and the rest keep their random initialisation.
    """
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise ValueError(f"{ckpt_path}: HMR2.0 checkpoint not found")
    cfg_path = Path(config_yaml) if config_yaml is not None else ckpt_path.parent.parent / "model_config.yaml"
    cfg = read_config(cfg_path)
    blob = read_checkpoint(ckpt_path)
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{ckpt_path}: no state_dict in the checkpoint (not a 4D-Humans Lightning file)")
    model = HMR2(cfg)
    fitted, report = match_state_dict(model, state)
    if strict and not report.ok:
        problems = report.problems()
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        lines = [f"{ckpt_path}: {problems[0]}{more}"] + [f"{ckpt_path}: {p}" for p in problems]
        raise ValueError("\n".join(lines))
    model.load_state_dict(fitted, strict=False)
    return model.eval(), report


def random_hmr2(cfg: HMR2Config, seed: int = 0) -> HMR2:
    """A deterministic random :class:`HMR2` (same tensors in every process) with non-trivial
    mean parameters, for tests and parity runs."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = HMR2(cfg)
        with torch.no_grad():
            h = model.head
            h.mean_pose.add_(0.2 * torch.randn_like(h.mean_pose))
            h.mean_betas.copy_(0.5 * torch.randn_like(h.mean_betas))
            h.mean_cam.copy_(torch.tensor([[0.9, 0.05, 0.1]]))
    return model.eval()


def save_upstream_layout(model: HMR2, folder: Path, extras: bool = True) -> Path:
    """Write ``model`` as 4D-Humans would: ``folder/model_config.yaml`` and
    ``folder/checkpoints/epoch=35-step=1000000.ckpt`` (a Lightning dict with upstream key names).

    With ``extras`` the file also carries what real checkpoints have beside the network: small
    ``discriminator.*`` and ``smpl.*`` tensors, ``initialized``, and pickled Python objects under
    ``hyper_parameters`` (so ``weights_only=True`` refuses it, as it refuses the real file).
    Returns the checkpoint path.
    """
    import argparse

    folder = Path(folder)
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "model_config.yaml").write_text(_yaml().safe_dump(config_to_yaml(model.cfg), sort_keys=True))
    state = {upstream_name(k): v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    blob: dict[str, Any] = {"epoch": 35, "global_step": 1_000_000, "pytorch-lightning_version": "2.0.0",
                            "state_dict": state}
    if extras:
        g = torch.Generator().manual_seed(1)
        state["discriminator.D_conv1.weight"] = torch.randn(32, 9, 1, 1, generator=g)
        state["smpl.shapedirs"] = torch.randn(20, 3, 10, generator=g)
        state["initialized"] = torch.tensor(True)
        blob["hyper_parameters"] = {"cfg": argparse.Namespace(MODEL={"IMAGE_SIZE": model.cfg.crop_size})}
        blob["optimizer_states"] = []
    path = folder / "checkpoints" / CKPT_NAME
    torch.save(blob, path)
    return path
