"""Reference systems for the evaluation: most-popular and item-kNN (implicit), seen items removed.

Both are fitted on the stage's fit interactions only and output the same ``user, rank, artist,
score`` top-K as every other system, so ``metrics.evaluate_topk`` scores them identically.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
from threadpoolctl import threadpool_limits

from .ids import codes_in, factorize_sorted
from .metrics import pair_isin

TOPK_COLUMNS = ("user", "rank", "artist", "score")


def _empty_topk() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": pd.Series(dtype=str),
            "rank": pd.Series(dtype=np.int32),
            "artist": pd.Series(dtype=str),
            "score": pd.Series(dtype=np.float64),
        }
    )


def popularity_table(fit_interactions: pd.DataFrame) -> pd.DataFrame:
    """Artists by listeners, then plays, then key: ``artist, listeners, plays`` best first."""
    pop = fit_interactions.groupby("artist", sort=True).agg(
        listeners=("user", "size"), plays=("plays", "sum")
    )
    pop = pop.reset_index()
    pop["artist"] = pop["artist"].astype(str)
    return pop.sort_values(
        ["listeners", "plays", "artist"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def popularity_topk(
    fit_interactions: pd.DataFrame, users: Any, seen: pd.DataFrame, k: int
) -> pd.DataFrame:
    """The ``k`` artists with most listeners in the fit data that each listener has not seen.

    Vectorised over listeners: each round scans the first ``depth`` popular artists for every
    listener still short of ``k``, doubling ``depth`` (a handful of rounds for heavy listeners).
    """
    pop = popularity_table(fit_interactions)
    ranked = pd.Index(pop["artist"].to_numpy())
    score = pop["listeners"].to_numpy(dtype=np.float64)
    users = np.unique(np.asarray(users).astype(str))
    if not len(users) or not len(ranked):
        return _empty_topk()
    uidx = pd.Index(users)
    su = codes_in(uidx, seen["user"])
    sa = codes_in(ranked, seen["artist"])
    ok = (su >= 0) & (sa >= 0)
    n_art = np.int64(len(ranked))
    seen_key = np.unique(su[ok].astype(np.int64) * n_art + sa[ok])

    todo = np.arange(len(users))
    depth = min(len(ranked), 2 * k + 10)
    out_u, out_a = [], []
    while len(todo):
        u = np.repeat(todo, depth)
        a = np.tile(np.arange(depth), len(todo))
        fresh = ~np.isin(u.astype(np.int64) * n_art + a, seen_key)
        u, a = u[fresh], a[fresh]
        start = np.r_[0, np.flatnonzero(np.diff(u)) + 1] if len(u) else np.zeros(0, int)
        pos = np.arange(len(u)) - np.repeat(start, np.diff(np.r_[start, len(u)]))
        got = np.bincount(u, minlength=len(users))[todo]
        done = (got >= k) | (depth >= len(ranked))
        take = (pos < k) & np.isin(u, todo[done])
        out_u.append(u[take])
        out_a.append(a[take])
        todo = todo[~done]
        depth = min(len(ranked), depth * 2)
    u, a = np.concatenate(out_u), np.concatenate(out_a)
    order = np.lexsort((a, u))
    u, a = u[order], a[order]
    start = np.r_[0, np.flatnonzero(np.diff(u)) + 1] if len(u) else np.zeros(0, int)
    rank = np.arange(len(u)) - np.repeat(start, np.diff(np.r_[start, len(u)])) + 1
    return pd.DataFrame(
        {
            "user": users[u],
            "rank": rank.astype(np.int32),
            "artist": ranked.to_numpy()[a].astype(str),
            "score": score[a],
        }
    )


def itemknn_topk(
    fit_interactions: pd.DataFrame,
    users: Any,
    seen: pd.DataFrame,
    k: int,
    kind: str = "bm25",
    *,
    neighbours: int = 100,
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
    chunk_size: int = 20_000,
    num_threads: int = 2,
) -> pd.DataFrame:
    """Item-kNN top-``k`` through implicit's ``CosineRecommender`` / ``BM25Recommender``.

    Similarities come from the fit users × artists plays; a listener's scores sum the
    similarities of the artists they played (implicit's batched ``recommend``, seen filtered).
    Pairs in ``seen`` beyond the fit rows are removed afterwards. Listeners without fit rows get
    no recommendations (they score 0 in the evaluation).
    """
    if kind not in ("cosine", "bm25"):
        raise ValueError(f"itemknn kind must be 'cosine' or 'bm25', not {kind!r}")
    u, all_users = factorize_sorted(fit_interactions["user"])
    a, artists = factorize_sorted(fit_interactions["artist"])
    plays = fit_interactions["plays"].to_numpy(dtype=np.float32)
    matrix = sp.csr_matrix((plays, (u, a)), shape=(len(all_users), len(artists)))
    users = np.unique(np.asarray(users).astype(str))
    rows = pd.Index(all_users).get_indexer(users)
    users, rows = users[rows >= 0], rows[rows >= 0]
    if not len(users) or not len(artists):
        return _empty_topk()
    model = (
        CosineRecommender(K=neighbours, num_threads=num_threads)
        if kind == "cosine"
        else BM25Recommender(K=neighbours, K1=bm25_k1, B=bm25_b, num_threads=num_threads)
    )
    n = min(k, len(artists))
    ids_parts, score_parts = [], []
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # BM25Recommender hands its own COO matrix to all_pairs_knn, which then warns.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(matrix, show_progress=False)
        for start in range(0, len(rows), chunk_size):
            r = rows[start : start + chunk_size]
            ids, scores = model.recommend(
                np.arange(len(r)), matrix[r], N=n, filter_already_liked_items=True
            )
            ids_parts.append(ids)
            score_parts.append(scores)
    ids, scores = np.vstack(ids_parts), np.vstack(score_parts)
    ok = (ids >= 0) & (scores > -1e37)
    uu = np.broadcast_to(np.arange(len(users))[:, None], ids.shape)[ok]
    rank = np.broadcast_to(np.arange(1, ids.shape[1] + 1)[None, :], ids.shape)[ok]
    out = pd.DataFrame(
        {
            "user": users[uu],
            "rank": rank.astype(np.int32),
            "artist": artists[ids[ok]],
            "score": scores[ok].astype(np.float64),
        }
    )
    extra = pair_isin(out, seen)
    if extra.any():
        out = out[~extra].reset_index(drop=True)
        out["rank"] = out.groupby("user").cumcount().astype(np.int32) + 1
    return out
