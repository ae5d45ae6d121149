"""BlazePose-GHUM (pose detector + full landmark model) as PyTorch modules.

Weights: converted once from the Apache-2.0 .tflite files bundled in mediapipe 0.10.21 by
``scripts/convert_blazepose.py``; see ``models/blazepose/data/NOTICE``.
"""
