"""Vertex embeddings of the CSE mesh and the closest-vertex lookup for pixel embeddings.

DensePose-CSE's ``vertex_feature`` embedder: a frozen per-vertex feature basis ``features (V, F)``
(Laplace–Beltrami eigenfunctions of the mesh, ``smpl_27554``: V = 27554, F = 256) times a learned
``embeddings (F, D)`` matrix, each row L2-normalised (norm floored at 1e-6). Both tensors come from
the checkpoint (``roi_heads.embedder.embedder_<mesh>.{features,embeddings}``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

NORM_FLOOR = 1e-6
CHUNK = 1024  # pixels per distance block: 1024 × 27554 floats ≈ 113 MB


def normalize_rows(x: Tensor, floor: float = NORM_FLOOR) -> Tensor:
    """``(N, D)`` rows divided by their L2 norm (at least ``floor``)."""
    return x / torch.clamp(torch.linalg.vector_norm(x, dim=1, keepdim=True), min=floor)


class VertexEmbedder(nn.Module):
    """``forward() → (V, D)`` unit-length embedding of every mesh vertex."""

    def __init__(self, num_vertices: int, feature_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.register_buffer("features", torch.zeros(num_vertices, feature_dim))
        self.embeddings = nn.Parameter(torch.zeros(feature_dim, embed_dim))

    def forward(self) -> Tensor:
        return normalize_rows(self.features @ self.embeddings)


def coarse_mask(coarse_segm: Tensor) -> Tensor:
    """``(S, H, W)`` coarse segmentation logits → ``(H, W)`` bool: foreground (argmax > 0)."""
    return coarse_segm.argmax(dim=0) > 0


def closest_vertices(embedding: Tensor, mask: Tensor, vertex_embeddings: Tensor) -> Tensor:
    """Nearest mesh vertex (squared Euclidean distance) of every masked pixel.

    Args:
        embedding: ``(D, H, W)`` pixel embeddings of one box (e.g. ``(16, 112, 112)``).
        mask: ``(H, W)`` bool, pixels to look up (e.g. :func:`coarse_mask` of the box).
        vertex_embeddings: ``(V, D)`` from :class:`VertexEmbedder`.

    Returns:
        ``(H, W)`` int64 vertex ids, −1 outside ``mask``.
    """
    _D, H, W = embedding.shape
    if mask.shape != (H, W):
        raise ValueError(f"mask {tuple(mask.shape)} does not match the embedding's {(H, W)}")
    out = torch.full((H, W), -1, dtype=torch.int64, device=embedding.device)
    pixels = embedding.permute(1, 2, 0)[mask]  # (P, D)
    if pixels.shape[0] == 0:
        return out
    v = vertex_embeddings.to(pixels.dtype)
    v_sq = (v * v).sum(dim=1)  # (V,)
    ids = []
    for start in range(0, pixels.shape[0], CHUNK):
        p = pixels[start:start + CHUNK]
        # ‖p − v‖² = ‖p‖² − 2 p·v + ‖v‖²; ‖p‖² is the same for every vertex of a pixel.
        ids.append(torch.argmin(v_sq[None, :] - 2.0 * (p @ v.T), dim=1))
    out[mask] = torch.cat(ids)
    return out
