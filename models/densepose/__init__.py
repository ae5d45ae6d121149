"""DensePose-CSE ROI head: decoder, DensePose head, CSE predictor, vertex embedder, loader."""
