"""Person detectors: ``image (H, W, 3) uint8 RGB -> boxes (N, 4) xyxy pixels, scores (N,)``."""
