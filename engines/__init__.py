"""One engine interface over TensorRT, TensorRT-RTX, ONNX Runtime and PyTorch backends."""
