"""Body models in SMPL's file format: loading, linear blend skinning, smplx backend."""
