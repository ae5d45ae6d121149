"""Inverse kinematics: BlazePose landmarks to SMPL pose, shape and camera."""
