"""Item-kNN: each artist's ``neighbours`` most similar artists, through implicit's
``CosineRecommender`` / ``BM25Recommender`` / ``TFIDFRecommender`` (its C++ ``all_pairs_knn``).
Only the similarity matrix is kept; scoring is the shared item-item rule (``itemitem``)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender
from threadpoolctl import threadpool_limits

from ...config import ITEMKNN_KINDS as KINDS
from ...parallel import THREADS
from .itemitem import ItemItemModel, keep_top_per_row


def fit_itemknn(
    matrix: sp.csr_matrix,
    artists: np.ndarray,
    *,
    kind: str,
    neighbours: int,
    weighting: str,
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
    threads: int = THREADS,
) -> ItemItemModel:
    """Similarities of a users × artists play matrix (columns = ``artists``, sorted keys) by
    ``kind``; histories are weighted by ``weighting`` when scored."""
    k = neighbours + 1  # implicit counts each artist as its own neighbour; it is dropped below
    if kind == "cosine":
        model = CosineRecommender(K=k, num_threads=threads)
    elif kind == "bm25":
        model = BM25Recommender(K=k, K1=bm25_k1, B=bm25_b, num_threads=threads)
    elif kind == "tfidf":
        model = TFIDFRecommender(K=k, num_threads=threads)
    else:
        raise ValueError(f"itemknn kind must be one of {KINDS}, not {kind!r}")
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # implicit hands its own COO matrix to all_pairs_knn, which then warns.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(sp.csr_matrix(matrix, dtype=np.float32), show_progress=False)
    w = sp.csr_matrix(model.similarity, dtype=np.float32)
    rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
    w.data[w.indices == rows] = 0.0
    w.eliminate_zeros()
    w = keep_top_per_row(w, neighbours)  # when an artist was not among its own K
    params: dict[str, float | int | str] = {
        "kind": kind,
        "neighbours": int(neighbours),
        "weighting": weighting,
    }
    if kind == "bm25":
        params.update(bm25_k1=float(bm25_k1), bm25_b=float(bm25_b))
    return ItemItemModel(
        name="itemknn",
        artists=np.asarray(artists, dtype=object),
        weights=w,
        weighting=weighting,
        params=params,
        info={"artists_fit": float(matrix.shape[1]), "weights_nnz": float(w.nnz)},
    )
