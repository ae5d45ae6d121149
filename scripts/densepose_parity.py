"""Stage-by-stage parity of stmocap.models.densepose (DensePose-CSE ROI head) with detectron2.

Deterministic random weights of the chosen CSE config, written as a model-zoo style ``.pkl``; the
same FPN levels (seeded, N(0, 1), shaped as a 640×480 frame at short side 800: 800×1088 padded) and
the same person boxes go through detectron2 + DensePose (``densepose_parity_reference.py`` in its
own environment, as a subprocess) and through our head; one table row per stage. The backbone and
detector that produce real FPN levels are compared in ``scripts/detectron_parity.py``.

    .venv/bin/python scripts/densepose_parity.py --d2-python /tmp/ref/venvd2/bin/python \
        --preset R_101_FPN_DL_soft_s1x [--markdown docs/parity.md]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from stmocap.models.densepose.checkpoint import load_cse_checkpoint, to_detectron2
from stmocap.models.densepose.config import PRESETS
from stmocap.models.densepose.embedder import VertexEmbedder
from stmocap.models.densepose.model import DensePoseHead
from stmocap.models.detectron.pkl import write_pkl
from stmocap.models.detectron.roi_align import roi_align

HERE = Path(__file__).resolve().parent
CONFIGS = {"R_50_FPN_s1x": "densepose_rcnn_R_50_FPN_s1x.yaml",
           "R_101_FPN_DL_soft_s1x": "densepose_rcnn_R_101_FPN_DL_soft_s1x.yaml"}
BOXES = np.array([[96.0, 40.5, 421.3, 790.0], [380.2, 120.0, 1001.7, 655.5], [10.0, 10.0, 37.0, 90.0]],
                 np.float32)


def random_head(preset: str, seed: int = 0) -> tuple[DensePoseHead, VertexEmbedder]:
    """Seeded random head and embedder; conv weights scaled so activations stay O(1)."""
    cfg = PRESETS[preset]
    torch.manual_seed(seed)
    head, emb = DensePoseHead(cfg).eval(), VertexEmbedder(cfg.num_vertices, cfg.vertex_feature_dim,
                                                          cfg.embed_size)
    with torch.no_grad():
        for p in [*head.parameters(), *emb.parameters()]:
            p.copy_(torch.randn_like(p) * (1.0 / max(1, p[0].numel()) ** 0.5 if p.dim() > 1 else 0.1))
    return head, emb


def compare(name: str, ours: np.ndarray, ref: np.ndarray) -> tuple[str, str, float, float, float]:
    """(stage, shape, max |reference|, max abs diff, relative = diff / max |reference|)."""
    scale = float(np.abs(ref).max())
    diff = float(np.abs(ours - ref).max())
    return name, "×".join(map(str, ref.shape)), scale, diff, diff / max(scale, 1e-12)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d2-python", required=True, help="python of the detectron2 + DensePose venv")
    ap.add_argument("--d2-source", type=Path, default=Path("/tmp/ref/d2"), help="detectron2 checkout")
    ap.add_argument("--preset", choices=sorted(CONFIGS), default="R_101_FPN_DL_soft_s1x")
    ap.add_argument("--markdown", type=Path, help="append the table to this file")
    args = ap.parse_args()
    head, emb = random_head(args.preset)
    cfg = head.cfg
    g = torch.Generator().manual_seed(7)
    fpn = {k: torch.randn(*cfg.level_shape(k, cfg.export_image), generator=g)[None]
           for k in cfg.in_features}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pkl = tmp / "weights.pkl"
        write_pkl(pkl, to_detectron2(head, emb))
        np.savez(tmp / "in.npz", boxes=BOXES, **{k: v.numpy() for k, v in fpn.items()})
        config = args.d2_source / "projects" / "DensePose" / "configs" / "cse" / CONFIGS[args.preset]
        subprocess.run([args.d2_python, str(HERE / "densepose_parity_reference.py"), str(config), str(pkl),
                        str(tmp / "in.npz"), str(tmp / "out.npz")], check=True)
        ref = dict(np.load(tmp / "out.npz"))
        loaded = load_cse_checkpoint(pkl, strict=True)  # ours, through the loader, from the same file
    ours_head, ours_emb = loaded.head.eval(), loaded.embedder.eval()
    rois = torch.cat([torch.zeros(len(BOXES), 1), torch.from_numpy(BOXES)], 1)
    rows = []
    with torch.no_grad():
        decoded = ours_head.decode(fpn)
        rows.append(compare("decoder map (p2..p5 → stride 4)", decoded.numpy(), ref["decoded"]))
        theirs_decoded = torch.from_numpy(ref["decoded"])
        direct = roi_align(theirs_decoded, rois, (cfg.pooler_resolution,) * 2, cfg.pooler_scale,
                           cfg.sampling_ratio, cfg.aligned)
        rows.append(compare("ROIAlign vs torchvision.ops.roi_align (same map)", direct.numpy(),
                            ref["torchvision_roi_align"]))
        pooled = ours_head.pool(decoded, rois)
        rows.append(compare("pooled ROI features", pooled.numpy(), ref["pooled"]))
        feats = ours_head.densepose_head(pooled)
        rows.append(compare(f"head features ({cfg.head})", feats.numpy(), ref["head"]))
        embedding, segm = ours_head.densepose_predictor(feats)
        rows.append(compare("embedding (end to end)", embedding.numpy(), ref["embedding"]))
        rows.append(compare("coarse segmentation (end to end)", segm.numpy(), ref["coarse_segm"]))
        rows.append(compare("vertex embeddings", ours_emb().numpy(), ref["vertex_embeddings"]))
    settings = ref["pooler_settings"]
    lines = [f"### {args.preset} (`{CONFIGS[args.preset]}`)", "",
             f"Random weights (seed 0) through our loader; FPN levels N(0,1) shaped for an "
             f"{cfg.export_image[0]}×{cfg.export_image[1]} input; {len(BOXES)} boxes (one 27×80 px, "
             f"smaller than a pooler bin grid). detectron2's pooler: scale {settings[0]:g}, sampling "
             f"ratio {settings[1]:g}, aligned {bool(settings[2])}, {int(settings[3])}×{int(settings[3])}.",
             "", "| stage | shape | max abs (reference) | max abs diff | relative |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {s} | {m:.3g} | {d:.3g} | {r:.3g} |" for n, s, m, d, r in rows]
    worst = max(r for *_, r in rows)
    verdict = "met" if worst <= 1e-4 else "NOT met"
    lines += ["", f"Worst relative error {worst:.3g} (bar 1e-4): {verdict}.", ""]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with args.markdown.open("a") as fh:
            fh.write("\n" + text)
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
