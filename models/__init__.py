"""Models: rotation maths, the paper's temporal network, body models."""
