"""Reference side of ``scripts/detectron_parity.py``: runs in a detectron2 + DensePose environment.

Not importable from stmocap's venv (it needs detectron2, DensePose and torchvision). Usage::

    D2PYTHON detectron_parity_reference.py CONFIG.yaml WEIGHTS.pkl INPUT.npz OUT.npz [KEY VALUE ...]

INPUT.npz holds ``image_bgr`` (H, W, 3) uint8. KEY VALUE pairs go to ``cfg.merge_from_list``.
OUT.npz gets every stage of the Faster R-CNN forward, named as ``detectron_parity.py`` expects.
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def main(argv: list[str]) -> None:
    import detectron2.data.transforms as T
    from densepose import add_densepose_config
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    config, weights, inp, out, *overrides = argv
    cfg = get_cfg()
    add_densepose_config(cfg)
    cfg.merge_from_file(config)
    # The vertex-embedding basis is downloaded at build time otherwise; the detector does not use it.
    for name in cfg.MODEL.ROI_DENSEPOSE_HEAD.CSE.EMBEDDERS:
        cfg.MODEL.ROI_DENSEPOSE_HEAD.CSE.EMBEDDERS[name].INIT_FILE = ""
    # MODEL.WEIGHTS: the CSE embedder reads its own keys from it at build time (else a download).
    cfg.merge_from_list([*overrides, "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", weights])
    cfg.freeze()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    DetectionCheckpointer(model).load(weights)

    img = np.load(inp)["image_bgr"]
    H, W = img.shape[:2]
    aug = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
    resized = aug.get_transform(img).apply_image(img)
    inputs = {"image": torch.as_tensor(resized.astype("float32").transpose(2, 0, 1)),
              "height": H, "width": W}
    res: dict[str, np.ndarray] = {"resized": resized}
    with torch.no_grad():
        images = model.preprocess_image([inputs])
        res["tensor"] = images.tensor.numpy()
        res["image_size"] = np.array(images.image_sizes[0])
        for k, v in model.backbone.bottom_up(images.tensor).items():
            res[k] = v.numpy()
        feats = model.backbone(images.tensor)
        for k, v in feats.items():
            res[k] = v.numpy()
        pg = model.proposal_generator
        obj, dl = pg.rpn_head([feats[f] for f in pg.in_features])
        for i, (o, d) in enumerate(zip(obj, dl, strict=True)):
            res[f"rpn_objectness{i}"] = o.numpy()
            res[f"rpn_deltas{i}"] = d.numpy()
        proposals, _ = pg(images, feats, None)
        res["proposals"] = proposals[0].proposal_boxes.tensor.numpy()
        res["proposal_logits"] = proposals[0].objectness_logits.numpy()
        rh = model.roi_heads
        pooled = rh.box_pooler([feats[f] for f in rh.box_in_features], [p.proposal_boxes for p in proposals])
        res["box_pooled"] = pooled.numpy()
        logits, deltas = rh.box_predictor(rh.box_head(pooled))
        res["box_logits"] = logits.numpy()
        res["box_deltas"] = deltas.numpy()
        inst, _ = rh.box_predictor.inference((logits, deltas), proposals)
        res["boxes_input"] = inst[0].pred_boxes.tensor.numpy()
        res["scores_input"] = inst[0].scores.numpy()
        final = model.inference([inputs], do_postprocess=True)[0]["instances"]
        res["boxes"] = final.pred_boxes.tensor.numpy()
        res["scores"] = final.scores.numpy()
        res["classes"] = final.pred_classes.numpy()
    np.savez(out, **res)


if __name__ == "__main__":
    main(sys.argv[1:])
