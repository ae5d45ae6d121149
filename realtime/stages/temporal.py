"""Temporal stage: one batched engine call over every window of a frame.

With an engine (the paper's temporal network, any backend) the window's estimates are mapped to
the engine's inputs by name (``win_<input>``) and its 6D pose, β and camera come back per window
position. Without one, the window's own per-frame estimates pass through, so stitching alone
averages overlapping windows. Output adds ``win_rot (K, W, J, 3, 3)`` and ``win_lin (K, W, D)``
(D = β ‖ camera). Where the per-frame stage was given the person's shape (``meta["shape_given"]``,
the lite profile's ``--person-height``) the engine's β is replaced by the per-frame one.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from stmocap.engines.base import Engine
from stmocap.models.rotations import rotation_6d_to_matrix
from stmocap.realtime.messages import Message
from stmocap.realtime.schema import F32, I64, ArrayRule, KindSchema, schemas
from stmocap.realtime.stages.base import Stage


class TemporalStage(Stage):
    name = "temporal"
    consumes = ("windows",)
    produces = ("windows",)
    inputs = schemas({"windows": KindSchema({
        "win_track": ArrayRule(I64, ("K",)),
        "win_pose_6d": ArrayRule(F32, ("K", "W", 24, 6), required_when="K"),
        "win_betas": ArrayRule(F32, ("K", "W", None), required_when="K"),
        "win_cam": ArrayRule(F32, ("K", "W", 3), required_when="K")})})

    def __init__(self, engine: Engine | None = None, max_batch: int = 16) -> None:
        self.engine = engine
        self.max_batch = max_batch

    def input_schema(self, kind: str) -> KindSchema | None:
        """Without an engine the window's own estimates pass through; with one, every engine
        input must come as ``win_<input> (K, W, …)``."""
        if self.engine is None:
            return super().input_schema(kind)
        rules = {"win_track": ArrayRule(I64, ("K",))}
        for spec in self.engine.inputs:
            per_frame = math.prod(d for d in spec.shape[2:] if isinstance(d, int))
            rules[f"win_{spec.name}"] = ArrayRule(F32, ("K", "W"), required_when="K",
                                                  trailing=per_frame)
        return KindSchema(rules)

    def _run_engine(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.engine is not None
        K = len(arrays["win_track"])
        missing = [s.name for s in self.engine.inputs if f"win_{s.name}" not in arrays]
        if missing:
            raise ValueError(f"the temporal network needs per-frame {missing}, which the per-frame "
                             "stage does not provide (use --temporal none, or a profile with them)")
        pose, betas, cam = [], [], []
        for lo in range(0, K, self.max_batch):
            feed = {}
            for spec in self.engine.inputs:
                x = arrays[f"win_{spec.name}"][lo:lo + self.max_batch]
                feed[spec.name] = np.ascontiguousarray(x.reshape(x.shape[:2] + tuple(spec.shape[2:])),
                                                       dtype=spec.numpy_dtype)
            out = self.engine(feed)
            pose.append(out["pose_6d_out"].float().cpu())
            betas.append(out["betas"].float().cpu().numpy())
            cam.append(out["cam_out"].float().cpu().numpy())
        return torch.cat(pose).numpy(), np.concatenate(betas), np.concatenate(cam)

    def process(self, msg: Message) -> list[Message]:
        arrays = dict(msg.arrays)
        K = len(arrays["win_track"])
        if K:
            if self.engine is not None:
                pose, betas, cam = self._run_engine(arrays)
                if msg.meta.get("shape_given") and "win_betas" in arrays:
                    # A stated height (--person-height) fixed β per frame; the lite networks
                    # were trained on mean bodies and would pull it back to the mean.
                    betas = arrays["win_betas"]
            else:
                pose, betas, cam = arrays["win_pose_6d"], arrays["win_betas"], arrays["win_cam"]
            arrays["win_rot"] = rotation_6d_to_matrix(torch.from_numpy(np.ascontiguousarray(pose))
                                                      ).numpy().astype(np.float32)
            # SMPL translation (lite profile) passes through unchanged and is averaged like β
            transl = [arrays["win_transl"]] if "win_transl" in arrays else []
            arrays["win_lin"] = np.concatenate([betas, cam, *transl], axis=-1).astype(np.float32)
        return [msg.derive("windows", arrays, dict(msg.meta))]

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
