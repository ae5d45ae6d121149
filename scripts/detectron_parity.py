"""Stage-by-stage parity of stmocap.models.detectron with detectron2 + DensePose (CSE configs).

Writes deterministic random weights of the chosen size as a model-zoo style ``.pkl`` (batch-norm
statistics calibrated on the input photo so activations stay O(1) through 100+ layers), runs
detectron2 on them in its own environment (``detectron_parity_reference.py`` as a subprocess, since
detectron2 does not import here) and our modules in this one, on the same photo
(``skimage.data.astronaut()`` as BGR), and prints one table row per stage.

    .venv/bin/python scripts/detectron_parity.py --d2-python /tmp/ref/venvd2/bin/python \
        --preset R_50_FPN [--min-size 800] [--frame 480x640] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from stmocap.models.detectron.anchors import apply_deltas
from stmocap.models.detectron.checkpoint import load_pkl, upstream_state
from stmocap.models.detectron.config import PRESETS, DetectronConfig
from stmocap.models.detectron.detector import FasterRCNN, to_original
from stmocap.models.detectron.pkl import write_pkl
from stmocap.models.detectron.preprocess import preprocess_bgr
from stmocap.models.detectron.resnet import ConvNorm, FrozenBatchNorm2d
from stmocap.models.detectron.rpn import RPN_WEIGHTS

HERE = Path(__file__).resolve().parent
CONFIGS = {50: "densepose_rcnn_R_50_FPN_s1x.yaml", 101: "densepose_rcnn_R_101_FPN_DL_soft_s1x.yaml"}
# Full R_50 depth but few channels: the same code paths in seconds (for the test).
NARROW = replace(PRESETS["R_50_FPN"], stem_channels=8, res2_channels=32, bottleneck_channels=8,
                 fpn_channels=16, fc_dim=32, min_size_test=320, max_size_test=533)


def preset_config(name: str) -> DetectronConfig:
    return NARROW if name == "narrow" else PRESETS[name]


def d2_overrides(cfg: DetectronConfig) -> list[str]:
    """detectron2 ``merge_from_list`` pairs that build the same network as ``cfg``."""
    depth = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101}[cfg.blocks]
    pairs = {
        "MODEL.RESNETS.DEPTH": depth, "MODEL.RESNETS.STEM_OUT_CHANNELS": cfg.stem_channels,
        "MODEL.RESNETS.RES2_OUT_CHANNELS": cfg.res2_channels,
        "MODEL.RESNETS.WIDTH_PER_GROUP": cfg.bottleneck_channels, "MODEL.FPN.OUT_CHANNELS": cfg.fpn_channels,
        "MODEL.ROI_BOX_HEAD.FC_DIM": cfg.fc_dim, "INPUT.MIN_SIZE_TEST": cfg.min_size_test,
        "INPUT.MAX_SIZE_TEST": cfg.max_size_test, "MODEL.RPN.PRE_NMS_TOPK_TEST": cfg.rpn_pre_nms_topk,
        "MODEL.RPN.POST_NMS_TOPK_TEST": cfg.rpn_post_nms_topk,
        # The DensePose head reads the decoder's output; narrow models need it narrow too.
        "MODEL.ROI_DENSEPOSE_HEAD.DECODER_NUM_CLASSES": cfg.fpn_channels,
        "MODEL.ROI_DENSEPOSE_HEAD.DECODER_CONV_DIMS": cfg.fpn_channels,
    }
    return [str(x) for kv in pairs.items() for x in kv]


def depth_of(cfg: DetectronConfig) -> int:
    return {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101}[cfg.blocks]


def make_weights(cfg: DetectronConfig, tensor: torch.Tensor, seed: int = 0) -> FasterRCNN:
    """Seeded random weights; every frozen BN's statistics set from its input on ``tensor`` (so its
    output has mean ``bias`` and std ``weight``), residual branches' last BN scaled down."""
    torch.manual_seed(seed)
    model = FasterRCNN(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    residual_ends = {m.norm for n, m in model.named_modules() if isinstance(m, ConvNorm)
                     and n.endswith("conv3")}

    def calibrate(mod: FrozenBatchNorm2d, args: tuple[torch.Tensor]) -> None:
        x = args[0]
        c = x.shape[1]
        lo, hi = (0.1, 0.3) if mod in residual_ends else (0.6, 1.0)
        mod.weight.copy_(lo + (hi - lo) * torch.rand(c, generator=g))
        mod.bias.copy_(0.1 * torch.randn(c, generator=g))
        mod.running_mean.copy_(x.mean(dim=(0, 2, 3)))
        mod.running_var.copy_(x.var(dim=(0, 2, 3)))

    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules()
             if isinstance(m, FrozenBatchNorm2d)]
    with torch.no_grad():
        model.backbone.bottom_up(tensor)
    for h in hooks:
        h.remove()
    return model


def rel(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |ours − ref|, that / max |ref|)."""
    if ours.shape != ref.shape:
        raise ValueError(f"shape {ours.shape} vs reference {ref.shape}")
    if ours.size == 0:
        return 0.0, 0.0
    d = float(np.abs(ours.astype(np.float64) - ref).max())
    return d, d / max(float(np.abs(ref).max()), 1e-12)


def photo(frame: tuple[int, int] | None) -> np.ndarray:
    """``skimage.data.astronaut()`` as BGR (512×512), or resized to ``frame`` (H, W) with cv2."""
    import cv2
    from skimage.data import astronaut

    bgr = np.ascontiguousarray(astronaut()[:, :, ::-1])
    if frame is not None:
        bgr = cv2.resize(bgr, (frame[1], frame[0]), interpolation=cv2.INTER_AREA)
    return bgr


def run(preset: str, d2_python: str, d2_root: Path, min_size: int | None, work: Path,
        frame: tuple[int, int] | None = None) -> list[dict]:

    cfg = preset_config(preset)
    if min_size is not None:
        cfg = cfg.with_input_size(min_size)
    bgr = photo(frame)
    pre = preprocess_bgr(bgr, cfg, "pil")
    model = make_weights(cfg, pre.tensor)
    pkl = work / "weights.pkl"
    write_pkl(pkl, upstream_state(model))
    ours = FasterRCNN(cfg).eval()
    report = load_pkl(ours, pkl)
    np.savez(work / "input.npz", image_bgr=bgr)
    config = d2_root / "projects/DensePose/configs/cse" / CONFIGS[depth_of(cfg)]
    subprocess.run([d2_python, str(HERE / "detectron_parity_reference.py"), str(config), str(pkl),
                    str(work / "input.npz"), str(work / "ref.npz"), *d2_overrides(cfg)], check=True)
    ref = dict(np.load(work / "ref.npz"))

    rows: list[dict] = []

    def add(stage: str, o: np.ndarray, r: np.ndarray, note: str = "") -> None:
        d, e = rel(o, r)
        rows.append({"stage": stage, "shape": list(r.shape), "max_abs": d, "relative": e, "note": note})

    from stmocap.models.detectron.preprocess import resize_image

    add("resized uint8", resize_image(bgr, pre.image_size, "pil"), ref["resized"])
    add("preprocessed tensor", pre.tensor.numpy(), ref["tensor"])
    with torch.no_grad():
        x = pre.tensor
        res = ours.backbone.bottom_up(x)
        for k in ("res2", "res3", "res4", "res5"):
            add(k, res[k].numpy(), ref[k])
        feats = ours.backbone(x)
        for k in ("p2", "p3", "p4", "p5", "p6"):
            add(k, feats[k].numpy(), ref[k])
        rpn = ours.proposal_generator(feats, [pre.image_size])
        for i in range(5):
            ro = ref[f"rpn_objectness{i}"]
            rd = ref[f"rpn_deltas{i}"]
            B, A, H, W = ro.shape
            add(f"RPN objectness p{i + 2}", rpn.objectness[i].numpy(),
                ro.transpose(0, 2, 3, 1).reshape(B, -1))
            add(f"RPN deltas p{i + 2}", rpn.deltas[i].numpy(),
                rd.reshape(B, A, 4, H, W).transpose(0, 3, 4, 1, 2).reshape(B, -1, 4))
        op, rp = rpn.proposals[0].numpy(), ref["proposals"]
        n = min(len(op), len(rp))
        same = np.isclose(op[:n], rp[:n], rtol=1e-4, atol=1e-3).all(axis=1)
        prefix = int(n if same.all() else np.argmin(same))
        close = np.isclose(op[:, None], rp[None], rtol=1e-4, atol=1e-3).all(axis=2)
        add("proposals (boxes)", op[:prefix], rp[:prefix],
            f"{len(op)} vs {len(rp)}; same order for the first {prefix}; as sets "
            f"{int(close.any(axis=1).sum())} of {len(op)} found")
        add("proposal logits", rpn.proposal_logits[0].numpy()[:prefix], ref["proposal_logits"][:prefix])
        # Our top-k / clip / NMS on the reference's RPN head outputs: isolates the selection logic.
        rdeltas = [torch.from_numpy(ref[f"rpn_deltas{i}"]) for i in range(5)]
        robj = [torch.from_numpy(ref[f"rpn_objectness{i}"]) for i in range(5)]
        flat_o = [o.permute(0, 2, 3, 1).flatten(1) for o in robj]
        flat_d = [d.view(d.shape[0], -1, 4, *d.shape[2:]).permute(0, 3, 4, 1, 2).reshape(d.shape[0], -1, 4)
                  for d in rdeltas]
        dec = [apply_deltas(d.reshape(-1, 4), a, RPN_WEIGHTS).view(d.shape)
               for d, a in zip(flat_d, rpn.anchors, strict=True)]
        sp, _ = ours.proposal_generator.select(dec, flat_o, 0, pre.image_size)
        exact = len(sp) == len(rp) and bool((sp.numpy() == rp).all())
        add("proposals from the reference's RPN outputs", sp.numpy(), rp,
            f"{len(sp)} vs {len(rp)}; {'bit-identical, same order' if exact else 'differ'}")
        # Box head on the reference's proposals, so it is compared even if proposals differ.
        props = [torch.from_numpy(rp)]
        pooled = ours.roi_heads.box_pooler(feats, props)
        add("box pooler (ROIAlign)", pooled.numpy(), ref["box_pooled"])
        out = ours.roi_heads(feats, props, [pre.image_size])
        add("box head logits", out.logits.numpy(), ref["box_logits"])
        add("box head deltas", out.deltas.numpy(), ref["box_deltas"])
        add("detections (input frame)", out.boxes[0].numpy(), ref["boxes_input"],
            f"{len(out.boxes[0])} vs {len(ref['boxes_input'])}")
        add("detection scores", out.scores[0].numpy(), ref["scores_input"])
        full = ours(x, [pre.image_size])[2]
        boxes = to_original(full.boxes[0], pre).numpy()
        add("final boxes (end to end, image frame)", boxes, ref["boxes"],
            f"{len(boxes)} vs {len(ref['boxes'])}")
        add("final scores (end to end)", full.scores[0].numpy(), ref["scores"])
    rows.append({"stage": "checkpoint", "note": f"missing {len(report.missing)}, unexpected "
                 f"{len(report.unexpected)}, mismatched {len(report.mismatched)}"})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| stage | shape | max abs | relative | note |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        if "shape" not in r:
            lines.append(f"| {r['stage']} | | | | {r['note']} |")
            continue
        lines.append(f"| {r['stage']} | {tuple(r['shape'])} | {r['max_abs']:.3g} | {r['relative']:.2e} "
                     f"| {r['note']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--d2-python", required=True, help="python of the detectron2 + DensePose venv")
    p.add_argument("--d2-root", type=Path, default=Path("/tmp/ref/d2"), help="detectron2 checkout")
    p.add_argument("--preset", default="R_50_FPN", choices=[*PRESETS, "narrow"])
    p.add_argument("--min-size", type=int, default=None, help="shortest edge (default: the preset's)")
    p.add_argument("--frame", default=None, help="resize the photo to HxW first (e.g. 480x640: "
                   "exercises padding and a non-integer scale)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        frame = tuple(int(v) for v in a.frame.split("x")) if a.frame else None
        rows = run(a.preset, a.d2_python, a.d2_root, a.min_size, Path(tmp), frame)  # type: ignore[arg-type]
    print(table(rows))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    worst = max((r["relative"] for r in rows if "relative" in r), default=0.0)
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
