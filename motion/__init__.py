"""Recorded sessions (``listen --record`` files) and motion export (BVH)."""
