"""Bridges from the published stream to other apps: VMC (OSC over UDP) for Unity/Blender."""
