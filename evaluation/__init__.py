"""Evaluation: metrics in VIBE/TCMR conventions."""
