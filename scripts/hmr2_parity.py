"""Parity of stmocap's HMR2.0 with 4D-Humans' own code, stage by stage, on a real photo.

    python scripts/hmr2_parity.py /tmp/ref/4dh [--preset full|reduced] [--markdown docs/parity.md]

Both implementations load the same deterministic random weights from one checkpoint written in
the upstream layout (:func:`stmocap.models.hmr2.checkpoint.save_upstream_layout`), and see the
same image (``skimage.data.astronaut()``) and boxes. Compared: the crops (stmocap's
``crop_people_square`` vs upstream's ``ViTDetDataset``), the backbone features and the head
outputs on upstream's crops (each stage isolated), and the whole path (each side's own crops).

Upstream's network modules are imported straight from the checkout (``hmr2.models.backbones.vit``,
``hmr2.models.heads.smpl_head``, ``hmr2.datasets.vitdet_dataset``) under empty parent packages, so
their package ``__init__`` files (which pull in Lightning, pyrender, smplx, webdataset) do not run.
They need ``einops``, ``yacs``, ``scikit-image`` and OpenCV. timm's three helpers that ``vit.py``
imports (``drop_path``, ``to_2tuple``, ``trunc_normal_``) are provided by a small stand-in when
timm cannot be imported (timm needs torchvision, whose PyPI build does not load with CPU torch);
they only matter for training and initialisation.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import io
import subprocess
import sys
import tempfile
import types
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

BOXES = np.array([[0, 0, 512, 512],        # 683-px square (> 2.2 × 256): blurred first
                  [140, 40, 380, 500],     # downscaled, no blur
                  [300, 250, 420, 400]],   # upscaled; its square reaches past the image edge
                 np.float32)


@dataclass(frozen=True)
class Upstream:
    vit: types.ModuleType
    smpl_head: types.ModuleType
    vitdet_dataset: types.ModuleType
    commit: str


def _timm_stand_in() -> None:
    """Register ``timm.models.layers`` with the three helpers 4D-Humans' ``vit.py`` imports."""
    try:
        importlib.import_module("timm.models.layers")
        return
    except Exception:
        for name in [m for m in sys.modules if m == "timm" or m.startswith("timm.")]:
            del sys.modules[name]

    def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
        if not training or not drop_prob:
            return x
        raise NotImplementedError("stand-in drop_path is for evaluation only")

    def to_2tuple(x: Any) -> tuple[Any, Any]:
        return tuple(x) if isinstance(x, (tuple, list)) else (x, x)

    layers = types.ModuleType("timm.models.layers")
    layers.drop_path, layers.to_2tuple = drop_path, to_2tuple  # type: ignore[attr-defined]
    layers.trunc_normal_ = torch.nn.init.trunc_normal_  # type: ignore[attr-defined]
    for name in ("timm", "timm.models"):
        pkg = types.ModuleType(name)
        pkg.__path__ = []  # type: ignore[attr-defined]
        sys.modules[name] = pkg
    sys.modules["timm.models.layers"] = layers


def load_upstream(root: Path) -> Upstream:
    """Import 4D-Humans' network and crop modules from the checkout at ``root``."""
    root = Path(root).resolve()
    if not (root / "hmr2" / "models" / "backbones" / "vit.py").is_file():
        raise FileNotFoundError(f"{root} is not a 4D-Humans checkout (no hmr2/models/backbones/vit.py)")
    _timm_stand_in()
    for name, rel in (("hmr2", "hmr2"), ("hmr2.models", "hmr2/models"), ("hmr2.utils", "hmr2/utils"),
                      ("hmr2.datasets", "hmr2/datasets")):
        existing = sys.modules.get(name)
        if existing is not None and list(getattr(existing, "__path__", [])) == [str(root / rel)]:
            continue
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(root / rel)]  # type: ignore[attr-defined]
        sys.modules[name] = pkg
    vit = importlib.import_module("hmr2.models.backbones.vit")
    head = importlib.import_module("hmr2.models.heads.smpl_head")
    ds = importlib.import_module("hmr2.datasets.vitdet_dataset")
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return Upstream(vit, head, ds, commit)


def upstream_model(up: Upstream, ckpt: Path, cfg_yaml: Path, tmp: Path) -> tuple[Any, Any, Any]:
    """Upstream backbone, SMPL head and yacs config, with the checkpoint's weights (strict)."""
    from stmocap.models.hmr2.checkpoint import read_checkpoint, read_config
    from yacs.config import CfgNode

    ours = read_config(cfg_yaml)
    cfg = CfgNode(new_allowed=True)
    cfg.merge_from_file(str(cfg_yaml))
    state = read_checkpoint(ckpt)["state_dict"]
    mean = tmp / "mean_params.npz"
    np.savez(mean, pose=state["smpl_head.init_body_pose"][0].numpy(),
             shape=state["smpl_head.init_betas"][0].numpy(), cam=state["smpl_head.init_cam"][0].numpy())
    cfg.SMPL.MEAN_PARAMS = str(mean)
    if (ours.width, ours.depth, ours.heads) == (1280, 32, 16):
        backbone = up.vit.vit(cfg)  # upstream's own ViT-H factory
    else:  # the same call with smaller sizes (upstream's factory hard-codes ViT-H)
        backbone = up.vit.ViT(img_size=(ours.image_height, ours.image_width), patch_size=16,
                              embed_dim=ours.width, depth=ours.depth, num_heads=ours.heads, ratio=1,
                              use_checkpoint=False, mlp_ratio=4, qkv_bias=True, drop_path_rate=0.55)
    head = up.smpl_head.SMPLTransformerDecoderHead(cfg)
    for module, prefix in ((backbone, "backbone."), (head, "smpl_head.")):
        module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)},
                               strict=True)
    backbone.eval()  # (upstream's ViT.train returns None, so no chaining)
    head.eval()
    return backbone, head, cfg


def upstream_crops(up: Upstream, cfg: Any, image_rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Upstream's ``ViTDetDataset`` crops ``(T, 3, S, S)`` of a BGR copy of the image."""
    ds = up.vitdet_dataset.ViTDetDataset(cfg, np.ascontiguousarray(image_rgb[:, :, ::-1]), boxes)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints every downsampling factor
        items = [ds[i] for i in range(len(ds))]
    return np.stack([it["img"] for it in items]), np.stack([it["box_center"] for it in items]), \
        np.array([it["box_size"] for it in items])


def _diff(name: str, ours: Any, ref: Any) -> dict[str, Any]:
    a = torch.as_tensor(np.asarray(ours), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(ref), dtype=torch.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{name}: shape {tuple(a.shape)} vs upstream {tuple(b.shape)}")
    mad = float((a - b).abs().max()) if a.numel() else 0.0
    scale = max(float(b.abs().max()) if b.numel() else 0.0, 1e-6)
    return {"stage": name, "max_abs": mad, "relative": mad / scale, "shape": tuple(a.shape)}


def run_parity(root: Path, cfg_name: str = "reduced", seed: int = 0, image: np.ndarray | None = None,
               boxes: np.ndarray = BOXES) -> tuple[list[dict[str, Any]], str]:
    """Rows ``{stage, max_abs, relative, shape}`` and the upstream commit."""
    from stmocap.models.hmr2.checkpoint import load_hmr2, random_hmr2, save_upstream_layout
    from stmocap.models.hmr2.config import FULL
    from stmocap.models.hmr2.preprocess import blur_sigma, crop_people, crop_people_square

    if image is None:
        from skimage.data import astronaut
        image = astronaut()
    cfg = FULL if cfg_name == "full" else reduced_config()
    up = load_upstream(root)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_s, torch.no_grad():
        tmp = Path(tmp_s)
        ckpt = save_upstream_layout(random_hmr2(cfg, seed), tmp / "hmr2")
        ours, report = load_hmr2(ckpt)
        assert report.ok and report.ignored, report
        backbone, head, ycfg = upstream_model(up, ckpt, ckpt.parent.parent / "model_config.yaml", tmp)

        sq_ours, centers, sizes = crop_people_square(image, boxes, ours.cfg)
        sq_ref, centers_ref, sizes_ref = upstream_crops(up, ycfg, image, boxes)
        rows.append(_diff("crop 256×256 (normalised)", sq_ours, sq_ref))
        rows.append(_diff("box centre / size (px)", np.c_[centers, sizes], np.c_[centers_ref, sizes_ref]))
        blurred = [i for i, s in enumerate(sizes) if blur_sigma(float(s), ours.cfg) is not None]
        assert blurred and len(blurred) < len(sizes), "the boxes must exercise both crop paths"

        x_ours = torch.from_numpy(crop_people(image, boxes, ours.cfg)[0])
        m = ours.cfg.crop_margin
        x_ref = torch.from_numpy(sq_ref)[:, :, :, m:-m]  # upstream's forward_step slice
        rows.append(_diff("network input 256×192", x_ours, x_ref))

        f_ref = backbone(x_ref)
        f_ours = ours.backbone(x_ref)
        rows.append(_diff("backbone features (same input)", f_ours, f_ref))
        params, cam_ref, _ = head(f_ref)
        rot_ref = torch.cat([params["global_orient"], params["body_pose"]], dim=1)
        pose, betas, cam = ours.head(f_ref)
        from stmocap.models.rotations import rotation_6d_to_matrix
        rows.append(_diff("head rotmats (same features)", rotation_6d_to_matrix(pose.reshape(-1, 24, 6)),
                          rot_ref))
        rows.append(_diff("head betas (same features)", betas, params["betas"]))
        rows.append(_diff("head cam (same features)", cam, cam_ref))

        out = ours(x_ours)
        rows.append(_diff("end to end rotmats", out.rotmats, rot_ref))
        rows.append(_diff("end to end betas", out.betas, params["betas"]))
        rows.append(_diff("end to end cam", out.cam, cam_ref))
    return rows, up.commit


def reduced_config():  # type: ignore[no-untyped-def]
    """Upstream's image size and structure with narrow layers (seconds on a CPU)."""
    from stmocap.models.hmr2.config import FULL

    return replace(FULL, width=64, depth=2, heads=2, decoder_depth=2, decoder_width=64, decoder_heads=2,
                   decoder_head_dim=32, decoder_mlp=64)


def to_markdown(rows: list[dict[str, Any]], cfg_name: str, commit: str, command: str) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Config `{cfg_name}`, upstream 4D-Humans `{commit}`, torch {torch.__version__}, measured "
             f"{when}. Image `skimage.data.astronaut()` (512×512), boxes {BOXES.astype(int).tolist()}; "
             "random weights (seed 0) written in the upstream checkpoint layout and loaded by both. "
             "Relative error = max |stmocap − upstream| / max |upstream|.", "",
             f"Command: `{command}`", "",
             "| stage | shape | max abs diff | relative error |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['stage']} | {'×'.join(map(str, r['shape']))} | {r['max_abs']:.3g} | "
                     f"{r['relative']:.3g} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("upstream", type=Path, help="4D-Humans checkout")
    p.add_argument("--preset", choices=("full", "reduced"), default="full")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--markdown", type=Path, help="write the table here (between hmr2-parity markers)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Using torch.cross without")  # upstream's geometry.py
    rows, commit = run_parity(args.upstream, args.preset)
    command = "python scripts/hmr2_parity.py " + " ".join(sys.argv[1:])
    table = to_markdown(rows, args.preset, commit, command)
    print(table)
    worst = max(r["relative"] for r in rows)
    if args.markdown:
        start = f"<!-- hmr2-parity:{args.preset}:start -->"
        end = f"<!-- hmr2-parity:{args.preset}:end -->"
        text = args.markdown.read_text()
        if start in text and end in text:
            head, rest = text.split(start, 1)
            text = head + f"{start}\n{table}\n{end}" + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + f"\n\n{start}\n{table}\n{end}\n"
        args.markdown.write_text(text)
    print(f"worst relative error {worst:.3g} (bar 1e-4)", file=sys.stderr)
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
