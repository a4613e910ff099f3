"""Blending the reranker with ALS, choosing α on validation, and deterministic top-K.

Fixes the seed (seed-system.md §9, §14.8): both scores are min-max normalised per listener
before mixing, so α means the same thing for every listener and any per-listener scale of the
LambdaRank output is irrelevant; ties are broken by artist key, never by an unstable sort.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .metrics import evaluate_topk

CONSTANT_SCORE = 0.5  # a listener whose scores are all equal: no preference, the midpoint


def _user_codes(df: pd.DataFrame, user_col: str = "user") -> np.ndarray:
    values = df[user_col]
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64)
    return pd.factorize(values)[0]


def sorted_codes(values: pd.Series) -> np.ndarray:
    """Integer codes whose order is the string order of the values (cheap for categoricals)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories.astype(str).to_numpy()
        rank = np.empty(len(cats), dtype=np.int64)
        rank[np.argsort(cats, kind="stable")] = np.arange(len(cats))
        return rank[values.cat.codes.to_numpy()]
    return pd.factorize(values.astype(str), sort=True)[0]


def normalise_per_user(df: pd.DataFrame, col: str, user_col: str = "user") -> pd.Series:
    """Min-max ``col`` to [0, 1] within each listener; constant listeners get 0.5, NaN stays NaN.

    0.5 (not 0 or 1) because a constant score carries no preference; any constant would keep
    the within-listener order, which is all the blend needs.
    """
    codes = _user_codes(df, user_col)
    x = df[col].to_numpy(dtype=np.float64)
    g = pd.Series(x).groupby(codes)
    lo, hi = g.transform("min").to_numpy(), g.transform("max").to_numpy()
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), CONSTANT_SCORE)
    out = np.where(np.isnan(x), np.nan, out)
    return pd.Series(out, index=df.index, name=col)


def blend(
    df: pd.DataFrame,
    alpha: float,
    *,
    ranker_col: str = "ranker_score",
    als_col: str = "als_score",
    user_col: str = "user",
) -> pd.Series:
    """α·norm(ranker) + (1 − α)·norm(ALS), per listener; where the ranker is NaN, norm(ALS)."""
    als = normalise_per_user(df, als_col, user_col).to_numpy()
    if alpha == 0 or ranker_col not in df:
        return pd.Series(als, index=df.index, name="score")
    ranker = normalise_per_user(df, ranker_col, user_col).to_numpy()
    mixed = alpha * ranker + (1.0 - alpha) * als
    return pd.Series(np.where(np.isnan(ranker), als, mixed), index=df.index, name="score")


def topk(df: pd.DataFrame, score_col: str, k: int, *, user_col: str = "user") -> pd.DataFrame:
    """Best ``k`` rows per listener: ``user, rank`` (1-based) ``, artist, score`` + other columns.

    Order: score descending, then artist key ascending (stable and reproducible); NaN scores last.
    """
    if not len(df):
        cols = ["user", "rank", "artist", "score"]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    users = sorted_codes(df[user_col])
    artists = sorted_codes(df["artist"])
    s = df[score_col].to_numpy(dtype=np.float64)
    key = np.where(np.isnan(s), np.inf, -s)
    order = np.lexsort((artists, key, users))
    out = df.iloc[order].reset_index(drop=True)
    u_sorted = users[order]
    start = np.r_[0, np.flatnonzero(u_sorted[1:] != u_sorted[:-1]) + 1]
    counts = np.diff(np.r_[start, len(u_sorted)])
    rank = np.arange(len(u_sorted)) - np.repeat(start, counts) + 1
    keep = rank <= k
    out = out[keep].reset_index(drop=True)
    out.insert(1, "rank", rank[keep].astype(np.int32))
    out["user"] = out[user_col].astype(str)
    out["artist"] = out["artist"].astype(str)
    if score_col != "score":
        out["score"] = out[score_col]
    rest = [c for c in out.columns if c not in ("user", "rank", "artist", "score")]
    return out[["user", "rank", "artist", "score", *rest]]


def choose_alpha(
    df: pd.DataFrame,
    labels: pd.DataFrame,
    grid: tuple[float, ...],
    k: int,
    *,
    n_catalogue: int,
    users: Any = None,
) -> tuple[float, list[dict[str, float]]]:
    """Best α on ``grid`` by NDCG@k of the blended top-k (ties: the smaller α, i.e. more ALS).

    ``df`` holds candidates of held-out validation listeners with ``als_score`` and
    ``ranker_score``; metrics come from ``evaluate_topk`` against all their labels (full
    catalogue: relevant artists outside the candidates count as misses).
    """
    if users is None:
        users = np.unique(labels["user"].astype(str))
    sweep = []
    for alpha in grid:
        ranked = topk(df.assign(score=blend(df, float(alpha))), "score", k)
        m = evaluate_topk(ranked, labels, k, n_catalogue, users=users)
        sweep.append({"alpha": float(alpha), **{n: m[n] for n in ("ndcg", "map", "recall")}})
    best = max(range(len(sweep)), key=lambda j: (sweep[j]["ndcg"], -sweep[j]["alpha"]))
    return sweep[best]["alpha"], sweep
