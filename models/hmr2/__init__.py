"""HMR2.0 (4D-Humans, Goel et al. 2023) in stmocap's own PyTorch: ViT-H backbone + SMPL
transformer-decoder head, person-crop preprocessing identical to upstream's demo, and a strict
loader for the released Lightning checkpoint. Parity with the upstream code: docs/parity.md."""
