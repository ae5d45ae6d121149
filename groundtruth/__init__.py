"""Ground truth we can measure against: retargeted motion capture, rendered into video."""
