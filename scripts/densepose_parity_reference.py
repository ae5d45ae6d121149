"""Reference side of ``scripts/densepose_parity.py``: runs in a detectron2 + DensePose environment.

Not importable from stmocap's venv. Usage::

    D2PYTHON densepose_parity_reference.py CONFIG.yaml WEIGHTS.pkl INPUT.npz OUT.npz

INPUT.npz holds the FPN levels ``p2``..``p5`` (1, C, H/s, W/s) and ``boxes`` (K, 4) in network-input
pixels. OUT.npz gets every stage of DensePose's ROI head on them (decoder, pooler, head, predictor,
vertex embeddings) and torchvision's ``roi_align`` on the decoder map (the direct ROIAlign reference).
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def main(argv: list[str]) -> None:
    from densepose import add_densepose_config
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model
    from detectron2.structures import Boxes
    from torchvision.ops import roi_align

    config, weights, inp, out = argv
    cfg = get_cfg()
    add_densepose_config(cfg)
    cfg.merge_from_file(config)
    for name in cfg.MODEL.ROI_DENSEPOSE_HEAD.CSE.EMBEDDERS:  # else downloaded at build time
        cfg.MODEL.ROI_DENSEPOSE_HEAD.CSE.EMBEDDERS[name].INIT_FILE = ""
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", weights])
    cfg.freeze()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    DetectionCheckpointer(model).load(weights)
    data = np.load(inp)
    rh = model.roi_heads
    feats = [torch.from_numpy(data[f]) for f in rh.in_features]
    boxes = torch.from_numpy(data["boxes"])
    res: dict[str, np.ndarray] = {}
    with torch.no_grad():
        decoded = rh.decoder(feats)
        res["decoded"] = decoded.numpy()
        pooled = rh.densepose_pooler([decoded], [Boxes(boxes)])
        res["pooled"] = pooled.numpy()
        rois = torch.cat([torch.zeros(len(boxes), 1), boxes], 1)
        scale = rh.densepose_pooler.level_poolers[0].spatial_scale
        ratio = rh.densepose_pooler.level_poolers[0].sampling_ratio
        aligned = rh.densepose_pooler.level_poolers[0].aligned
        size = rh.densepose_pooler.output_size
        res["torchvision_roi_align"] = roi_align(decoded, rois, size, scale, ratio, aligned).numpy()
        res["pooler_settings"] = np.array([scale, ratio, float(aligned), size[0]])
        head = rh.densepose_head(pooled)
        res["head"] = head.numpy()
        pred = rh.densepose_predictor(head)
        res["embedding"] = pred.embedding.numpy()
        res["coarse_segm"] = pred.coarse_segm.numpy()
        mesh = next(iter(cfg.MODEL.ROI_DENSEPOSE_HEAD.CSE.EMBEDDERS))
        res["vertex_embeddings"] = rh.embedder(mesh).numpy()
    np.savez(out, **res)


if __name__ == "__main__":
    main(sys.argv[1:])
