"""Export: PyTorch → ONNX (with parity checks) → TensorRT / TensorRT-RTX engines."""
