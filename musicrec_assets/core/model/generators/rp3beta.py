"""RP3beta (Paudel et al. 2017): a three-step random walk listener → artist → listener → artist,
with each target's probability divided by its popularity to the power β.

``W = P_ia^α · P_ai^α`` (rows of the play matrix and of its transpose normalised to 1, raised
elementwise to α), each column j divided by ``listeners_j^β``, the diagonal zeroed, and only the
``neighbours`` largest entries of each row kept. The product is built a block of artists at a
time and pruned as it goes, so the dense artist × artist matrix never exists.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .itemitem import ItemItemModel, keep_top_per_row, top_dense_rows, weighted_matrix

BLOCK_ARTISTS = 2_000  # rows of W built per sparse product
DENSE_CELLS = 40_000_000  # listeners × artists up to which the walk may be multiplied densely
DENSE_SHARE = 0.03  # ... when at least this share of artist pairs may be co-listened


def _row_normalised(mat: sp.csr_matrix, power: float) -> sp.csr_matrix:
    sums = np.asarray(mat.sum(axis=1)).ravel()
    out = sp.csr_matrix(sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ mat)
    out.data = np.power(out.data, power)
    return out


def rp3beta_weights(
    matrix: sp.csr_matrix, *, alpha: float, beta: float, neighbours: int, weighting: str
) -> sp.csr_matrix:
    """The pruned RP3beta artist × artist matrix (float32 CSR) of a users × artists matrix."""
    x = weighted_matrix(matrix, weighting).astype(np.float64)
    p_ua = _row_normalised(x, alpha)  # listener → artist
    p_au = _row_normalised(sp.csr_matrix(x.T), alpha)  # artist → listener
    listeners = np.diff(sp.csc_matrix(x).indptr).astype(np.float64)
    penalty = sp.diags(np.power(np.maximum(listeners, 1.0), -beta))
    n = x.shape[1]
    # Few listeners with long histories (e.g. 50 profiles of ~1,000 artists) make the product
    # nearly dense (Σ listeners' artists² bounds its entries): then a dense right-hand side and
    # a dense top-k are faster than sorting millions of sparse entries per block.
    degrees = np.diff(x.indptr).astype(np.float64)
    dense = x.shape[0] * n <= DENSE_CELLS and (degrees**2).sum() >= DENSE_SHARE * n * n
    right = (p_ua @ penalty).toarray() if dense else sp.csr_matrix(p_ua @ penalty)
    step = max(1, min(BLOCK_ARTISTS, DENSE_CELLS // max(n, 1))) if dense else BLOCK_ARTISTS
    blocks = []
    for start in range(0, n, step):
        product = p_au[start : start + step] @ right
        if dense:
            product = np.asarray(product)
            product[np.arange(product.shape[0]), np.arange(start, start + product.shape[0])] = 0
            blocks.append(top_dense_rows(product, neighbours))
            continue
        block = sp.csr_matrix(product)
        rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        block.data[block.indices == rows + start] = 0.0  # an artist is not its own neighbour
        block.eliminate_zeros()
        blocks.append(keep_top_per_row(block, neighbours))
    w = sp.vstack(blocks).tocsr() if blocks else sp.csr_matrix((0, 0))
    return w.astype(np.float32)


def fit_rp3beta(
    matrix: sp.csr_matrix,
    artists: np.ndarray,
    *,
    alpha: float,
    beta: float,
    neighbours: int,
    weighting: str,
) -> ItemItemModel:
    """RP3beta on a users × artists play matrix whose columns are ``artists`` (sorted keys)."""
    w = rp3beta_weights(matrix, alpha=alpha, beta=beta, neighbours=neighbours, weighting=weighting)
    return ItemItemModel(
        name="rp3beta",
        artists=np.asarray(artists, dtype=object),
        weights=w,
        weighting=weighting,
        params={
            "alpha": float(alpha),
            "beta": float(beta),
            "neighbours": int(neighbours),
            "weighting": weighting,
        },
        info={"artists_fit": float(matrix.shape[1]), "weights_nnz": float(w.nnz)},
        row_power=float(alpha),
    )
