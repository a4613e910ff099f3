"""Blending the reranker with a base generator, choosing α on validation, deterministic top-K.

Fixes the seed (docs/architecture.md, "What the seed project got wrong"): both scores are min-max
normalised per listener before mixing, so α means the same thing for every listener and any
per-listener scale of the LambdaRank output is irrelevant; ties are broken by artist key, never by
an unstable sort.

Sized for Last.fm-360K (72M serve rows, an 11-point α sweep over 12M validation rows): listeners
and artists become integer codes once per frame, per-listener statistics are segment reductions,
and the top-K is selected listener by listener on a padded matrix before anything is sorted or
copied, so only the kept rows are ever materialised.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..evaluation.metrics import evaluate_topk, relevant_sets
from ..grouping import minmax_per_group
from ..ids import sorted_codes

CONSTANT_SCORE = 0.5  # a listener whose scores are all equal: no preference, the midpoint
MAX_PADDING = 2  # pad listeners to a matrix only while it has at most this many cells per row


class _Groups(NamedTuple):
    """Row numbers listener by listener; ``cells`` is the same as a padded matrix (or None)."""

    order: np.ndarray  # row numbers grouped by listener code (then by artist code if given)
    starts: np.ndarray  # where each listener's rows begin in ``order``
    cells: np.ndarray | None  # listeners × widest listener, padded with len(order)
    users: np.ndarray  # each row's listener code

    @property
    def counts(self) -> np.ndarray:
        return np.diff(np.r_[self.starts, len(self.order)])


def _groups(users: np.ndarray, artists: np.ndarray | None = None) -> _Groups:
    """Group rows by listener code with one stable sort (none if already grouped in order).

    With ``artists`` the rows of a listener are also ordered by artist code, and ``cells`` lays
    them out as a matrix for the per-listener top-K, unless padding to the widest listener
    would exceed ``MAX_PADDING`` times the rows (then the top-K sorts the flat rows).
    """
    n = len(users)
    if artists is not None:
        key = (users.astype(np.int64) + 1) * (int(artists.max(initial=0)) + 2) + artists + 1
        order = np.argsort(key, kind="stable")
    elif n and np.any(users[1:] < users[:-1]):
        order = np.argsort(users, kind="stable")
    else:
        order = np.arange(n)
    grouped = users[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if n else order[:0]
    groups = _Groups(order, starts, None, users)
    counts = groups.counts
    width = int(counts.max(initial=0))
    if artists is None or len(starts) * width > MAX_PADDING * n:
        return groups
    cells = np.full((len(starts), width), n, dtype=np.int64)
    offset = np.arange(len(starts)) * width - starts  # cell of position p: p + its listener's
    cells.ravel()[np.arange(n) + np.repeat(offset, counts)] = order
    return groups._replace(cells=cells)


def _normalise(x: np.ndarray, groups: _Groups) -> np.ndarray:
    """Per-listener min-max of ``x`` (see ``normalise_per_user``)."""
    return minmax_per_group(x, groups.users, constant=CONSTANT_SCORE)


def normalise_per_user(df: pd.DataFrame, col: str, user_col: str = "user") -> pd.Series:
    """Min-max ``col`` to [0, 1] within each listener; constant listeners get 0.5, NaN stays NaN.

    0.5 (not 0 or 1) because a constant score carries no preference; any constant would keep
    the within-listener order, which is all the blend needs.
    """
    groups = _groups(sorted_codes(df[user_col])[0])
    x = df[col].to_numpy(dtype=np.float64)
    return pd.Series(_normalise(x, groups), index=df.index, name=col)


def _mix(base: np.ndarray, ranker: np.ndarray | None, alpha: float) -> np.ndarray:
    """α·ranker + (1 − α)·base on normalised scores; where the ranker is NaN, the base; where
    the base is NaN (an artist the base generator cannot score), its listener's minimum, 0."""
    if alpha == 0 or ranker is None:
        return base
    mixed = alpha * ranker
    mixed += (1.0 - alpha) * np.nan_to_num(base, nan=0.0)
    np.copyto(mixed, base, where=np.isnan(ranker))
    return mixed


def _normalised_scores(
    df: pd.DataFrame, groups: _Groups, ranker_col: str, base_col: str, with_ranker: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    base = _normalise(df[base_col].to_numpy(dtype=np.float64), groups)
    if not with_ranker or ranker_col not in df:
        return base, None
    return base, _normalise(df[ranker_col].to_numpy(dtype=np.float64), groups)


def blend(
    df: pd.DataFrame,
    alpha: float,
    *,
    ranker_col: str = "ranker_score",
    base_col: str = "als_score",
    user_col: str = "user",
) -> pd.Series:
    """α·norm(ranker) + (1 − α)·norm(base), per listener; where the ranker is NaN, norm(base)."""
    groups = _groups(sorted_codes(df[user_col])[0])
    base, ranker = _normalised_scores(df, groups, ranker_col, base_col, alpha != 0)
    return pd.Series(_mix(base, ranker, alpha), index=df.index, name="score")


def _best(groups: _Groups, score: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each listener's best ``k`` scores in rank order, and their 1-based ranks.

    Order: score descending (NaN last), ties in ``groups.order`` (artist code). On the padded
    matrix, a partition finds each listener's k-th key; the rows before it plus the first (by
    artist) of those equal to it are exactly the k best, and only those k get sorted.
    """
    n = len(score)
    key = np.empty(n + 1)  # sort key per row, and one for padding: after every row, NaN included
    np.negative(score, out=key[:n])
    key[n] = np.inf
    np.copyto(key[:n], np.inf, where=np.isnan(score))
    if groups.cells is None:
        listener = np.repeat(np.arange(len(groups.starts)), groups.counts)
        ranked = groups.order[np.lexsort((key[groups.order], listener))]
        rank = np.arange(n) - groups.starts[listener] + 1
        return ranked[rank <= k], rank[rank <= k]
    cells = groups.cells
    keys = key[cells]
    if 0 < k < cells.shape[1]:
        kth = np.partition(keys, k - 1, axis=1)[:, k - 1 : k]
        keep = keys <= kth
        over = np.flatnonzero(keep.sum(axis=1) > k)  # more rows tie with the k-th than fit
        if len(over):
            tie = keys[over] == kth[over]
            room = k - (keys[over] < kth[over]).sum(axis=1)
            ties = tie.sum(axis=1)
            # n-th tie of its listener: a flat running count (accumulating along rows is slow)
            nth = np.cumsum(tie).reshape(tie.shape) - (np.cumsum(ties) - ties)[:, None]
            keep[over] &= ~tie | (nth <= room[:, None])
        keys, cells = keys[keep].reshape(-1, k), cells[keep].reshape(-1, k)
    pos = np.argsort(keys, axis=1, kind="stable")[:, : max(k, 0)]
    top = np.take_along_axis(cells, pos, axis=1)
    rank = np.broadcast_to(np.arange(1, top.shape[1] + 1), top.shape)
    real = top < n
    return top[real], rank[real]


class _Keys(NamedTuple):
    """A frame's listener and artist codes in string order, their strings, and its groups."""

    users: np.ndarray
    user_strings: pd.Index
    artists: np.ndarray
    artist_strings: pd.Index
    groups: _Groups


def _keys(df: pd.DataFrame, user_col: str) -> _Keys:
    users, user_strings = sorted_codes(df[user_col])
    artists, artist_strings = sorted_codes(df["artist"])
    return _Keys(users, user_strings, artists, artist_strings, _groups(users, artists))


def _topk_frame(
    df: pd.DataFrame, keys: _Keys, rows: np.ndarray, rank: np.ndarray, score_col: str, user_col: str
) -> pd.DataFrame:
    """The kept rows in rank order; ids become strings only here, taken from the vocabularies."""
    out = df.iloc[rows].reset_index(drop=True)
    out.insert(1, "rank", rank.astype(np.int32))
    out["user"] = keys.user_strings.take(keys.users[rows], allow_fill=True, fill_value=np.nan)
    out["artist"] = keys.artist_strings.take(keys.artists[rows], allow_fill=True, fill_value=np.nan)
    if score_col != "score":
        out["score"] = out[score_col]
    rest = [c for c in out.columns if c not in ("user", "rank", "artist", "score")]
    return out[["user", "rank", "artist", "score", *rest]]


def _empty_topk() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ("user", "rank", "artist", "score")})


def topk(df: pd.DataFrame, score_col: str, k: int, *, user_col: str = "user") -> pd.DataFrame:
    """Best ``k`` rows per listener: ``user, rank`` (1-based) ``, artist, score`` + other columns.

    Order: score descending, then artist key ascending (stable and reproducible); NaN scores last.
    """
    if not len(df):
        return _empty_topk()
    keys = _keys(df, user_col)
    rows, rank = _best(keys.groups, df[score_col].to_numpy(dtype=np.float64), k)
    return _topk_frame(df, keys, rows, rank, score_col, user_col)


def blended_topk(
    df: pd.DataFrame,
    alpha: float,
    k: int,
    *,
    ranker_col: str = "ranker_score",
    base_col: str = "als_score",
    user_col: str = "user",
) -> pd.DataFrame:
    """``topk(df.assign(score=blend(df, alpha)), "score", k)``, grouping the rows only once."""
    if not len(df):
        return _empty_topk()
    keys = _keys(df, user_col)
    base, ranker = _normalised_scores(df, keys.groups, ranker_col, base_col, alpha != 0)
    score = _mix(base, ranker, alpha)
    rows, rank = _best(keys.groups, score, k)
    return _topk_frame(df.assign(score=score), keys, rows, rank, "score", user_col)


def choose_alpha(
    df: pd.DataFrame,
    labels: pd.DataFrame,
    grid: tuple[float, ...],
    k: int,
    *,
    n_catalogue: int,
    users: Any = None,
    base_col: str = "als_score",
) -> tuple[float, list[dict[str, float]]]:
    """Best α on ``grid`` by NDCG@k of the blended top-k (ties: the smaller α, more base).

    ``df`` holds candidates of validation listeners with ``base_col`` (the base generator's
    score) and an out-of-sample ``ranker_score``; metrics come from ``evaluate_topk`` against
    all their labels (full catalogue: relevant artists outside the candidates count as misses).
    Labels, codes and the normalised scores are prepared once; each α only re-mixes, selects
    its top-k and scores it.
    """
    if users is None:
        users = np.unique(labels["user"].astype(str))
    relevant = relevant_sets(labels, users)
    keys = _keys(df, "user")
    base, ranker = _normalised_scores(df, keys.groups, "ranker_score", base_col, True)
    sweep = []
    for alpha in grid:
        rows, rank = _best(keys.groups, _mix(base, ranker, float(alpha)), k)
        ranked = pd.DataFrame(
            {
                "user": pd.Categorical.from_codes(keys.users[rows], keys.user_strings),
                "rank": rank,
                "artist": pd.Categorical.from_codes(keys.artists[rows], keys.artist_strings),
            }
        )
        m = evaluate_topk(ranked, relevant, k, n_catalogue)
        sweep.append({"alpha": float(alpha), **{n: m[n] for n in ("ndcg", "map", "recall")}})
    best = max(range(len(sweep)), key=lambda j: (sweep[j]["ndcg"], -sweep[j]["alpha"]))
    return sweep[best]["alpha"], sweep
