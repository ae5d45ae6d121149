"""A converted TFLite operator graph run by PyTorch (our implementation of each operator).

The weight file (``scripts/convert_blazepose.py``) stores the operator list in execution order with
tensor ids, options and the constant tensors. Activations run in NCHW; TFLite's NHWC semantics are
kept where they matter (reshape, concatenation axis, depth-to-space channel order, SAME padding with
the extra row/column at the bottom/right). Graph inputs and outputs are NHWC like TFLite's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}
LANDMARK_OUTPUTS = (0, 1, 3, 4)
"""The ``pose_landmark_full`` outputs stmocap uses: landmarks, pose flag, heatmap, world landmarks
(output 2, the person segmentation, is not computed)."""
LANDMARK_EMBEDDING = 335
"""Tensor id of ``pose_landmark_full``'s last shared feature map ``(1, 2, 2, 288)``: the landmark,
pose-flag and world-landmark heads are 2×2 convolutions on it, so its 1,152 values are everything
those outputs are read from (the lite temporal network can take them as extra features;
:data:`stmocap.models.temporal.features.EMBEDDING_DIM` is its size)."""


def _act(x: Tensor, act: str) -> Tensor:
    if act == "relu":
        return F.relu(x)
    if act == "relu6":
        return F.relu6(x)
    return x


def _same_pad(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
              dilation: tuple[int, int] = (1, 1)) -> Tensor:
    """TensorFlow SAME padding: extra row/column at the bottom/right."""
    pads = []
    for dim, k, s, d in ((x.shape[3], kernel[1], stride[1], dilation[1]),
                         (x.shape[2], kernel[0], stride[0], dilation[0])):
        eff = (k - 1) * d + 1
        out = -(-dim // s)
        total = max((out - 1) * s + eff - dim, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


def _depth_to_space(x: Tensor, block: int) -> Tensor:
    """TensorFlow's DCR order: output channel c of sub-pixel (i, j) is input channel (i·b + j)·C + c."""
    n, cbb, h, w = x.shape
    c = cbb // (block * block)
    x = x.view(n, block, block, c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c, h * block, w * block)


def needed_ops(ops: list[dict[str, Any]], outputs: list[int]) -> list[dict[str, Any]]:
    """The operators (in their order) that ``outputs`` (tensor ids) depend on."""
    wanted = set(outputs)
    keep = []
    for op in reversed(ops):
        if op["outputs"][0] in wanted:
            keep.append(op)
            wanted.update(t for t in op["inputs"] if t >= 0)
    return keep[::-1]


class TFLiteGraph(nn.Module):
    """Run a converted graph. ``forward(x_nhwc)`` returns the graph outputs (NHWC for 4-D ones).

    ``outputs``: positions of the graph outputs to compute and return (default: all); operators
    that only feed the others are dropped, weights and all. ``taps``: ids of internal tensors
    returned after them (e.g. :data:`LANDMARK_EMBEDDING`).
    """

    def __init__(self, graph: dict[str, Any], constants: dict[str, np.ndarray],
                 outputs: Sequence[int] | None = None, taps: Sequence[int] = ()) -> None:
        super().__init__()
        if outputs is not None or taps:
            kept = range(len(graph["outputs"])) if outputs is None else outputs
            picked = [graph["outputs"][i] for i in kept] + [int(t) for t in taps]
            unknown = [t for t in taps if str(t) not in graph["shapes"]]
            if unknown:
                raise ValueError(f"no tensor {unknown} in this graph")
            graph = {**graph, "outputs": picked, "ops": needed_ops(graph["ops"], picked)}
        self.spec = graph
        self.ops: list[dict[str, Any]] = graph["ops"]
        self.shapes = {int(k): v for k, v in graph["shapes"].items()}
        self.consts: set[str] = set()
        self.ints: dict[int, list[int]] = {}
        for op in self.ops:
            self._prepare(op, constants)

    def _const(self, tid: int, constants: dict[str, np.ndarray]) -> np.ndarray:
        return constants[f"t{tid}"]

    def _register(self, key: str, value: np.ndarray) -> None:
        # Buffers, not parameters: the port is for inference, and buffers export cleanly to ONNX.
        self.register_buffer(f"k_{key}", torch.from_numpy(value.astype(np.float32)))
        self.consts.add(key)

    def _get(self, key: str) -> Tensor:
        return getattr(self, f"k_{key}")

    def _prepare(self, op: dict[str, Any], constants: dict[str, np.ndarray]) -> None:
        name, ins = op["op"], op["inputs"]
        if name == "CONV_2D":
            w = self._const(ins[1], constants)  # OHWI
            self._register(f"w{ins[1]}", w.transpose(0, 3, 1, 2))
            if len(ins) > 2 and ins[2] >= 0:
                self._register(f"b{ins[2]}", self._const(ins[2], constants))
        elif name == "DEPTHWISE_CONV_2D":
            w = self._const(ins[1], constants)  # 1, H, W, C·m
            self._register(f"w{ins[1]}", w.transpose(3, 0, 1, 2))
            if len(ins) > 2 and ins[2] >= 0:
                self._register(f"b{ins[2]}", self._const(ins[2], constants))
        elif name in ("PAD", "RESHAPE", "RESIZE_BILINEAR"):
            if len(ins) > 1 and f"t{ins[1]}" in constants:
                self.ints[ins[1]] = [int(v) for v in np.asarray(self._const(ins[1], constants)).reshape(-1)]
        elif name == "ADD":
            for t in ins:
                if f"t{t}" in constants:
                    self._register(f"c{t}", self._const(t, constants))

    def _run(self, op: dict[str, Any], env: dict[int, Tensor]) -> Tensor:
        name, ins, o = op["op"], op["inputs"], op["options"]
        x = env.get(ins[0])
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = self._get(f"w{ins[1]}")
            b = self._get(f"b{ins[2]}") if len(ins) > 2 and f"b{ins[2]}" in self.consts else None
            stride, dil = tuple(o["stride"]), tuple(o["dilation"])
            if o["padding"] == "same":
                x = _same_pad(x, (w.shape[2], w.shape[3]), stride, dil)
            groups = x.shape[1] if name == "DEPTHWISE_CONV_2D" else 1
            return _act(F.conv2d(x, w, b, stride, 0, dil, groups), o["act"])
        if name == "ADD":
            a = env[ins[0]] if ins[0] in env else self._get(f"c{ins[0]}")
            b = env[ins[1]] if ins[1] in env else self._get(f"c{ins[1]}")
            return _act(a + b, o["act"])
        if name == "PAD":
            p = self.ints[ins[1]]  # NHWC (before, after) pairs: N, H, W, C
            if p[0] or p[1]:
                raise NotImplementedError("padding the batch dimension")
            return F.pad(x, [p[4], p[5], p[2], p[3], p[6], p[7]])  # NCHW: W, H, C
        if name == "RESHAPE":
            shape = self.ints.get(ins[1]) if len(ins) > 1 else None
            shape = shape or self.shapes[op["outputs"][0]]
            if x.dim() == 4:
                x = x.permute(0, 2, 3, 1)  # to NHWC before TF's row-major reshape
            out = x.reshape([x.shape[0], *shape[1:]])
            return out.permute(0, 3, 1, 2) if out.dim() == 4 else out
        if name == "CONCATENATION":
            xs = [env[t] for t in ins]
            axis = o["axis"]
            if xs[0].dim() == 4:
                axis = NHWC_TO_NCHW_AXIS[axis]
            return _act(torch.cat(xs, dim=axis), o["act"])
        if name == "DEPTH_TO_SPACE":
            return _depth_to_space(x, o["block"])
        if name == "RESIZE_BILINEAR":
            size = self.ints[ins[1]]
            return F.interpolate(x, size=tuple(size), mode="bilinear",
                                 align_corners=o["align_corners"])
        if name == "MAX_POOL_2D":
            k, s = tuple(o["kernel"]), tuple(o["stride"])
            if o["padding"] == "same":
                x = _same_pad(x, k, s)
            return _act(F.max_pool2d(x, k, s), o["act"])
        if name == "LOGISTIC":
            return torch.sigmoid(x)
        raise NotImplementedError(name)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        env: dict[int, Tensor] = {self.spec["inputs"][0]: x.permute(0, 3, 1, 2)}
        for op in self.ops:
            env[op["outputs"][0]] = self._run(op, env)
        outs = []
        for t in self.spec["outputs"]:
            y = env[t]
            outs.append(y.permute(0, 2, 3, 1) if y.dim() == 4 else y)
        return tuple(outs)


def load_graph(name: str, path: Path | None = None, outputs: Sequence[int] | None = None,
               taps: Sequence[int] = ()) -> TFLiteGraph:
    """Load ``pose_detection`` or ``pose_landmark_full`` (shipped in the package) or ``path``;
    ``outputs``: which graph outputs to keep, ``taps``: internal tensors to return after them
    (see :class:`TFLiteGraph`)."""
    if path is None:
        path = Path(str(resources.files("stmocap.models.blazepose") / "data" / f"{name}.npz"))
    with np.load(path) as data:
        graph = json.loads(str(data["graph"]))
        constants = {k: data[k] for k in data.files if k != "graph"}
    return TFLiteGraph(graph, constants, outputs, taps).eval()
