#!/usr/bin/env bash
# Verify TensorRT on your own NVIDIA machine: export -> build -> parity -> benchmark, one table.
#
#   scripts/verify_tensorrt.sh [tensorrt|tensorrt-rtx] [fp32|fp16] [tiny|full]
#
# Needs a CUDA build of torch and the library: `pip install -e '.[onnx,tensorrt]'` (TensorRT 10,
# from NVIDIA's package index) or `pip install -e '.[onnx,rtx]'` (TensorRT-RTX, RTX 20xx-50xx GPUs).
# The table's last column is each backend's largest relative error against PyTorch on the same
# inputs; rows are written into docs/benchmarks.md when DOCS=1.
set -euo pipefail
lib=${1:-tensorrt}
precision=${2:-fp16}
preset=${3:-full}
case "$lib" in tensorrt|tensorrt-rtx) ;; *) echo "first argument: tensorrt or tensorrt-rtx" >&2; exit 2;; esac
case "$precision" in fp32) half=();; fp16) half=(--fp16);; *) echo "second argument: fp32 or fp16" >&2; exit 2;; esac
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible to torch')"
stmocap export --model all --preset "$preset" --to "onnx,$lib" --precision "$precision" --out artifacts
markdown=()
if [ "${DOCS:-0}" = 1 ]; then markdown=(--markdown docs/benchmarks.md); fi
stmocap bench --engines "torch,onnxruntime,$lib" --device cuda --model all --preset "$preset" \
    --calls 200 --warmup 20 "${half[@]}" "${markdown[@]}"
