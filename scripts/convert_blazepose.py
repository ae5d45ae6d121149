"""Convert BlazePose's .tflite networks into stmocap's op-graph weight files (run once, offline).

Source: the Apache-2.0 models bundled in the PyPI wheel mediapipe==0.10.21
(mediapipe/modules/pose_detection/pose_detection.tflite and
mediapipe/modules/pose_landmark/pose_landmark_full.tflite). mediapipe itself is never installed.

Reproduce, in a throw-away virtual environment (not stmocap's):

    python3 -m venv /tmp/bp && /tmp/bp/bin/pip install tflite ai-edge-litert numpy
    pip download --no-deps --only-binary=:all: mediapipe==0.10.21 -d /tmp/bp
    (cd /tmp/bp && unzip -o mediapipe-0.10.21-*.whl 'mediapipe/modules/pose_*/*.tflite')
    /tmp/bp/bin/python scripts/convert_blazepose.py /tmp/bp/mediapipe/modules models/blazepose/data

The flatbuffer is read with the `tflite` package for the operator list and options; the weights are
read from the TFLite interpreter (ai-edge-litert) after one invocation, which resolves the fp16
DEQUANTIZE and sparse DENSIFY constants into plain dense arrays. Weights are stored as float16 (the
precision they ship in), so the conversion is lossless. The script also writes reference outputs of
the original interpreter on a fixed input, which tests compare the PyTorch port against.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

COMPUTE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "PAD", "RESHAPE", "DEPTH_TO_SPACE",
               "RESIZE_BILINEAR", "CONCATENATION", "MAX_POOL_2D", "LOGISTIC"}
FOLDED_OPS = {"DEQUANTIZE", "DENSIFY"}
ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}


def _options(op, name: str, tfl) -> dict:  # type: ignore[no-untyped-def]
    o = op.BuiltinOptions()
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        opt = tfl.Conv2DOptions() if name == "CONV_2D" else tfl.DepthwiseConv2DOptions()
        opt.Init(o.Bytes, o.Pos)
        d = {"padding": "same" if opt.Padding() == 0 else "valid", "stride": [opt.StrideH(), opt.StrideW()],
             "dilation": [opt.DilationHFactor(), opt.DilationWFactor()],
             "act": ACTIVATIONS[opt.FusedActivationFunction()]}
        if name == "DEPTHWISE_CONV_2D":
            d["multiplier"] = opt.DepthMultiplier()
        return d
    if name == "ADD":
        opt = tfl.AddOptions()
        opt.Init(o.Bytes, o.Pos)
        return {"act": ACTIVATIONS[opt.FusedActivationFunction()]}
    if name == "MAX_POOL_2D":
        opt = tfl.Pool2DOptions()
        opt.Init(o.Bytes, o.Pos)
        return {"padding": "same" if opt.Padding() == 0 else "valid",
                "stride": [opt.StrideH(), opt.StrideW()], "kernel": [opt.FilterHeight(), opt.FilterWidth()],
                "act": ACTIVATIONS[opt.FusedActivationFunction()]}
    if name == "CONCATENATION":
        opt = tfl.ConcatenationOptions()
        opt.Init(o.Bytes, o.Pos)
        return {"axis": opt.Axis(), "act": ACTIVATIONS[opt.FusedActivationFunction()]}
    if name == "DEPTH_TO_SPACE":
        opt = tfl.DepthToSpaceOptions()
        opt.Init(o.Bytes, o.Pos)
        return {"block": opt.BlockSize()}
    if name == "RESIZE_BILINEAR":
        opt = tfl.ResizeBilinearOptions()
        opt.Init(o.Bytes, o.Pos)
        return {"align_corners": bool(opt.AlignCorners()), "half_pixel": bool(opt.HalfPixelCenters())}
    return {}


def convert(tflite_path: Path, out_path: Path) -> None:
    import tflite as tfl
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    buf = tflite_path.read_bytes()
    model = tfl.Model.GetRootAsModel(buf, 0)
    g = model.Subgraphs(0)
    names = {v: k for k, v in tfl.BuiltinOperator.__dict__.items() if not k.startswith("_")}
    # No XNNPACK delegate: it would take over the DEQUANTIZE/DENSIFY constants, which then never
    # appear in the interpreter's own tensors.
    interp = Interpreter(model_path=str(tflite_path), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, inp["shape"]).astype(np.float32)
    interp.set_tensor(inp["index"], x)
    interp.invoke()

    def shape(i: int) -> list[int]:
        return [int(s) for s in g.Tensors(i).ShapeAsNumpy()] if g.Tensors(i).ShapeLength() else []

    produced = set(int(i) for i in g.InputsAsNumpy())
    ops, weights = [], {}
    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(i) for i in op.OutputsAsNumpy()]
        if name in FOLDED_OPS:
            continue
        if name not in COMPUTE_OPS:
            raise SystemExit(f"unsupported op {name} in {tflite_path.name}")
        for i in ins:
            if i >= 0 and i not in produced and f"t{i}" not in weights:
                weights[f"t{i}"] = interp.get_tensor(i)
        ops.append({"op": name, "inputs": ins, "outputs": outs, "options": _options(op, name, tfl)})
        produced.update(outs)
    stored = {}
    for key, value in weights.items():
        # Weights ship as fp16; shape/size constants are integers.
        stored[key] = value.astype(np.float16) if value.dtype.kind == "f" else value.astype(np.int32)
    graph = {"source": tflite_path.name, "inputs": [int(i) for i in g.InputsAsNumpy()],
             "outputs": [int(i) for i in g.OutputsAsNumpy()],
             "output_names": [g.Tensors(int(i)).Name().decode() for i in g.OutputsAsNumpy()],
             "shapes": {str(i): shape(i) for i in range(g.TensorsLength())}, "ops": ops}
    np.savez_compressed(out_path, graph=np.array(json.dumps(graph)), **stored)
    ref = {"input": x}
    for j, det in enumerate(interp.get_output_details()):
        ref[f"output_{j}"] = interp.get_tensor(det["index"])
    np.savez_compressed(out_path.with_name(out_path.stem + "_reference.npz"), **ref)
    print(f"{tflite_path.name}: {len(ops)} ops, {len(stored)} constants -> {out_path}")


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(parents=True, exist_ok=True)
    convert(src / "pose_detection" / "pose_detection.tflite", dst / "pose_detection.npz")
    convert(src / "pose_landmark" / "pose_landmark_full.tflite", dst / "pose_landmark_full.npz")


if __name__ == "__main__":
    main()
