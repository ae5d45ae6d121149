"""DensePose-CSE's Faster R-CNN stage (ResNet + FPN backbone, RPN, box head) as plain PyTorch.

Built to load detectron2 model-zoo checkpoints (``model_final_*.pkl``) of the DensePose CSE configs
(``configs/cse/densepose_rcnn_R_{50,101}_FPN_*``) without detectron2 or torchvision. The entry point
is :class:`stmocap.models.detectron.detector.PersonDetector`; ``features()`` gives the FPN maps the
DensePose ROI head reads.
"""
