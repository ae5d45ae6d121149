"""The real-time graph and its pure core (windows, stitching)."""
