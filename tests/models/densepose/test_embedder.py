"""Vertex embeddings are unit rows of features @ embeddings; closest-vertex lookup is brute force."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from stmocap.models.densepose.embedder import VertexEmbedder, closest_vertices, coarse_mask, normalize_rows


def test_embeddings_are_unit_rows_of_the_product() -> None:
    torch.manual_seed(0)
    e = VertexEmbedder(40, 8, 16)
    with torch.no_grad():
        e.features.normal_()
        e.embeddings.normal_()
        e.features[3] = 0.0  # a zero row stays finite (norm floored), not NaN
    out = e()
    assert out.shape == (40, 16)
    raw = e.features @ e.embeddings
    norms = torch.linalg.vector_norm(out, dim=1)
    torch.testing.assert_close(norms[torch.arange(40) != 3], torch.ones(39))
    assert torch.all(out[3] == 0)
    # Same direction as the raw product.
    keep = torch.arange(40) != 3
    cos = (out * raw).sum(1)[keep] / torch.linalg.vector_norm(raw, dim=1)[keep]
    torch.testing.assert_close(cos, torch.ones(39))
    assert [n for n, _ in e.named_parameters()] == ["embeddings"]  # the basis is a frozen buffer


@given(st.integers(0, 2**16), st.integers(1, 6), st.integers(1, 7))
def test_closest_vertices_is_the_brute_force_argmin(seed: int, H: int, W: int) -> None:
    g = torch.Generator().manual_seed(seed)
    verts = normalize_rows(torch.randn(30, 4, generator=g))
    emb = torch.randn(4, H, W, generator=g)
    mask = torch.rand(H, W, generator=g) > 0.3
    got = closest_vertices(emb, mask, verts)
    assert got.shape == (H, W) and got.dtype == torch.int64
    assert torch.all(got[~mask] == -1)
    for i, j in zip(*torch.nonzero(mask, as_tuple=True), strict=True):
        d = ((verts - emb[:, i, j]) ** 2).sum(1)
        assert d[got[i, j]] <= d.min() + 1e-5


def test_coarse_mask_and_shape_check() -> None:
    segm = torch.zeros(2, 3, 3)
    segm[1, 0, 0] = 1.0
    m = coarse_mask(segm)
    assert m.dtype == torch.bool and m.sum() == 1 and m[0, 0]
    with pytest.raises(ValueError, match="does not match"):
        closest_vertices(torch.zeros(16, 4, 4), torch.ones(3, 4, dtype=torch.bool), torch.zeros(5, 16))
    assert torch.all(closest_vertices(torch.zeros(16, 4, 4), torch.zeros(4, 4, dtype=torch.bool),
                                      torch.zeros(5, 16)) == -1)
