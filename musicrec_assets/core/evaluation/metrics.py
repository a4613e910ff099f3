"""The one top-K evaluator, used for every system, the α sweep and the gate (docs/architecture.md,
Evaluation protocol).

Standard definitions (the seed's own made its MAP exceed its precision): precision = hits / K;
recall = hits / |T|; AP = Σ_{hits at r ≤ K} precision@r divided by min(K, |T|); NDCG with binary
gains 1/log2(r + 1) and the ideal DCG over min(K, |T|) relevant items, never over the list's own
labels; hit rate; catalogue coverage. Users are the given listeners with ≥ 1 relevant item; a
listener without recommendations scores 0. Vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..grouping import keys_in
from ..ids import codes_in, frame_keys, sorted_codes, vocab_of

METRICS: tuple[str, ...] = ("precision", "recall", "map", "ndcg", "hit_rate")


def pair_isin(left: pd.DataFrame, right: pd.DataFrame) -> np.ndarray:
    """For each (user, artist) row of ``left``: is the pair in ``right``? (str or categorical)."""
    lkey, rkey = frame_keys([left, right])
    return keys_in(lkey, rkey)


@dataclass(frozen=True)
class Relevant:
    """Labels of the evaluated listeners as integer pairs, for scoring many lists against them."""

    users: pd.Index  # evaluated listeners, sorted strings
    artists: pd.Index  # artists of their labels
    pairs: np.ndarray  # sorted: position in users × len(artists) + position in artists
    n_rel: np.ndarray  # relevant items per listener


def relevant_sets(relevant: pd.DataFrame, users: Any = None) -> Relevant:
    """``evaluate_topk``'s view of the labels; prepare once when scoring several lists (α sweep)."""
    rel = relevant[["user", "artist"]].astype(str).drop_duplicates()
    if users is None:
        users = np.unique(rel["user"].to_numpy())
    users = pd.Index(np.unique(np.asarray(users).astype(str)))
    rel = rel[rel["user"].isin(users)]
    u = users.get_indexer(rel["user"])
    n_rel = np.bincount(u, minlength=len(users))
    if (n_rel == 0).any():
        bad = users[np.flatnonzero(n_rel == 0)[0]]
        raise ValueError(f"user {bad!r} has no relevant item; evaluate only users with ≥ 1")
    artists = vocab_of(rel["artist"])
    pairs = u.astype(np.int64) * max(len(artists), 1) + artists.get_indexer(rel["artist"])
    return Relevant(users, artists, np.sort(pairs), n_rel)


def evaluate_topk(
    topk: pd.DataFrame,
    relevant: pd.DataFrame | Relevant,
    k: int,
    n_catalogue: int,
    users: Any = None,
) -> dict[str, Any]:
    """Mean metrics at ``k`` over ``users`` (default: every user in ``relevant``) + per-user arrays.

    ``topk`` has ``user, rank, artist`` (rank 1-based; positions are re-derived from the rank order,
    so gaps do not matter; duplicates of an artist count once); categorical ids are never
    converted row by row. ``relevant`` is a label frame or ``relevant_sets(labels, users)``
    (then ``users`` is already fixed). Returns ``{"k", "users_evaluated", precision, recall, map,
    ndcg, hit_rate, coverage, "per_user": {"user": array, metric: array}}``.
    """
    if not isinstance(relevant, Relevant):
        relevant = relevant_sets(relevant, users)
    elif users is not None:
        raise ValueError("users are fixed by relevant_sets; do not pass them again")
    users, n_rel = relevant.users, relevant.n_rel

    u = codes_in(users, topk["user"])
    rank = topk["rank"].to_numpy()
    artist = sorted_codes(topk["artist"])[0]  # equal ints for equal strings, -1 if missing
    in_labels = codes_in(relevant.artists, topk["artist"])
    sel = (u >= 0) & (rank <= k)
    u, rank, artist, in_labels = u[sel], rank[sel], artist[sel], in_labels[sel]
    order = np.lexsort((rank, u))
    u, artist, in_labels = u[order], artist[order], in_labels[order]
    dup = pd.DataFrame({"u": u, "a": artist}).duplicated().to_numpy()
    u, artist, in_labels = u[~dup], artist[~dup], in_labels[~dup]
    start = np.r_[0, np.flatnonzero(np.diff(u)) + 1] if len(u) else np.zeros(0, dtype=np.int64)
    first = np.repeat(start, np.diff(np.r_[start, len(u)]))
    pos = np.arange(len(u)) - first + 1  # 1-based position in the listener's list
    keep = pos <= k
    u, artist, in_labels, pos, first = (
        u[keep],
        artist[keep],
        in_labels[keep],
        pos[keep],
        first[keep],
    )

    key = u.astype(np.int64) * max(len(relevant.artists), 1) + in_labels
    labelled = np.append(relevant.pairs, -1)[np.searchsorted(relevant.pairs, key)] == key
    hit = ((in_labels >= 0) & labelled).astype(np.float64)
    csum = np.cumsum(hit)
    before = np.where(first > 0, csum[np.maximum(first - 1, 0)], 0.0)
    hits_so_far = csum - before
    m = len(users)
    hits = np.bincount(u, weights=hit, minlength=m)
    ap_num = np.bincount(u, weights=hit * hits_so_far / pos, minlength=m)
    dcg = np.bincount(u, weights=hit / np.log2(pos + 1.0), minlength=m)
    denom = np.minimum(k, n_rel)
    idcg = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))[denom - 1]

    per_user = {
        "precision": hits / k,
        "recall": hits / n_rel,
        "map": ap_num / denom,
        "ndcg": dcg / idcg,
        "hit_rate": (hits > 0).astype(np.float64),
    }
    n_rec = np.count_nonzero(np.bincount(artist[artist >= 0]))
    out: dict[str, Any] = {"k": int(k), "users_evaluated": int(m)}
    out.update({name: float(v.mean()) if m else 0.0 for name, v in per_user.items()})
    out["coverage"] = float(n_rec / n_catalogue) if n_catalogue else 0.0
    out["per_user"] = {"user": users.to_numpy(), **per_user}
    return out


def _bootstrap_means(values: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Means of ``n`` resamples of ``values`` with replacement (``values``: two or more).

    ``scipy.stats.bootstrap``'s resampling, 50 resamples at a time (memory ``50 × len``): the
    same draws and speed as the loop it replaced. The intervals below take ``np.percentile`` of
    these means rather than scipy's own interval, which differs in the last bit and would change
    the report's bytes.
    """
    return stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=n,
        batch=50,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    ).bootstrap_distribution


def bootstrap_ci(values: np.ndarray, n: int, seed: int, *, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of the mean over users (resampling users with replacement)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 or n <= 0:  # one value: every resample is that value
        mean = float(values.mean()) if len(values) else 0.0
        return [mean, mean]
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(_bootstrap_means(values, n, seed), [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, n: int, seed: int, *, confidence: float
) -> dict[str, float]:
    """Is system ``a`` better than ``b`` on the same listeners (per-listener metric arrays)?

    Resamples listeners (pairs kept together) and reports the mean difference, its one-sided
    lower bound at ``confidence`` (``a`` is better with that confidence iff ``lower > 0``), the
    matching upper bound, and the share of resamples in which ``a`` wins.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(diff) < 2 or n <= 0:  # one listener: every resample is that listener
        mean = float(diff.mean()) if len(diff) else 0.0
        return {"diff": mean, "lower": mean, "upper": mean, "p_better": float(mean > 0)}
    means = _bootstrap_means(diff, n, seed)
    lower, upper = np.percentile(means, [100.0 * (1.0 - confidence), 100.0 * confidence])
    return {
        "diff": float(diff.mean()),
        "lower": float(lower),
        "upper": float(upper),
        "p_better": float((means > 0).mean()),
    }
