"""Every generator's top-N unseen artists per listener and their union, a chunk at a time.

Each row is a (listener, artist) pair with, for every generator g, ``g_score`` (g's score of the
pair, NaN when g cannot score that artist) and ``g_rank`` (its 1-based rank in g's own top-N, NaN
when the artist is not in it), so the reranker sees how every model rates every candidate, and
each generator's own top-K is the rows with ``g_rank <= K``.

Listeners are processed a chunk at a time and every generator scores the whole chunk with
array operations: ALS through implicit's batched ``recommend`` on the augmented factors that
carry its one score (``als.scoring_factors``; listeners the model does not know are folded in
from their history, or get the popularity prior); the item-item models as history rows times
their weight matrix; popularity by the global order. No per-listener Python loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ..ids import codes_in
from ..parallel import THREADS
from .generators.als import ALSModel, _implicit, fold_in_codes, scoring_factors
from .generators.itemitem import ItemItemModel
from .generators.popularity import PopularityModel
from .generators.stages import StageModels

_FILTERED = -1e37  # implicit marks filtered slots with -FLT_MAX
CELLS = 8_000_000  # dense item-item score cells per chunk (listeners × artists)


def _vectors(
    model: ALSModel,
    users: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    plays: np.ndarray,
    num_threads: int,
) -> tuple[np.ndarray, dict[str, int]]:
    idx = model.user_index(users)
    vecs = np.zeros((len(users), model.factors), dtype=np.float32)
    known = idx >= 0
    vecs[known] = model.user_factors[idx[known]]
    missing = np.flatnonzero(~known)
    folded = 0
    if len(missing):
        new_row = np.full(len(users), -1)
        new_row[missing] = np.arange(len(missing))
        sel = new_row[rows] >= 0
        vecs[missing] = fold_in_codes(
            model,
            new_row[rows[sel]],
            cols[sel],
            plays[sel],
            len(missing),
            num_threads=num_threads,
        )
        folded = int(np.any(vecs[missing] != 0, axis=1).sum())
    info = {
        "users": len(users),
        "users_in_model": int(known.sum()),
        "users_folded_in": folded,
        "users_popularity_only": len(missing) - folded,
    }
    return vecs, info


def _csr(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    ok = cols >= 0
    data = np.ones(int(ok.sum()), dtype=np.float32)
    mat = sp.csr_matrix((data, (rows[ok], cols[ok])), shape=(n_rows, n_cols))
    mat.sum_duplicates()
    return mat


def topn_from_vectors(
    model: ALSModel,
    vectors: np.ndarray,
    seen: sp.csr_matrix,
    n: int,
    *,
    num_threads: int = THREADS,
) -> tuple[np.ndarray, np.ndarray]:
    """(artist ids, scores), each (len(vectors) × n'), best first; filtered slots score -inf.

    The core of candidate generation and cold start: implicit's batched ``recommend`` on the
    augmented scoring factors with the seen rows filtered.
    """
    n = min(int(n), len(model.artists))
    u_aug, i_aug = scoring_factors(model, vectors)
    rec = _implicit(u_aug.shape[1], model.regularization, 1.0, 0, num_threads)
    rec.item_factors = i_aug
    rec.user_factors = u_aug
    with threadpool_limits(1, "blas"):
        ids, scores = rec.recommend(
            np.arange(len(u_aug)), seen, N=n, filter_already_liked_items=True
        )
    scores = np.where(scores <= _FILTERED, -np.inf, scores)
    return ids, scores


def score_column(name: str) -> str:
    return f"{name}_score"


def rank_column(name: str) -> str:
    return f"{name}_rank"


def candidate_columns(names: tuple[str, ...]) -> list[str]:
    """``user, artist`` then ``<g>_score, <g>_rank`` per generator, in the given order."""
    return ["user", "artist", *[c for g in names for c in (score_column(g), rank_column(g))]]


@dataclass
class _Ranked:
    """One generator's top-N of a chunk (vocabulary codes, -inf = empty slot) and its scorer of
    any (chunk row, vocabulary code) pair."""

    ids: np.ndarray
    scores: np.ndarray
    pair: Callable[[np.ndarray, np.ndarray], np.ndarray]


def topn_dense(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, scores) of each row's ``n`` best, best first (ties: lower column); -inf marks
    filtered cells and stays -inf in the output."""
    n = min(int(n), scores.shape[1])
    if n <= 0:
        empty = np.zeros((scores.shape[0], 0))
        return empty.astype(np.int64), empty
    if n < scores.shape[1]:
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _gather(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    out = np.full(len(rows), np.nan, dtype=np.float32)
    ok = cols >= 0
    out[ok] = block[rows[ok], cols[ok]]
    return out


class _Chunk(NamedTuple):
    """A chunk of listeners' history: (chunk row, vocabulary code, plays), sorted by row."""

    users: np.ndarray
    rows: np.ndarray
    vocab: np.ndarray
    plays: np.ndarray


def _rank_als(
    model: ALSModel, to_model: np.ndarray, from_model: np.ndarray, c: _Chunk, n: int, threads: int
) -> tuple[_Ranked, dict[str, int]]:
    cols = to_model[c.vocab]
    vecs, info = _vectors(model, c.users, c.rows, cols, c.plays, threads)
    seen = _csr(c.rows, cols, len(c.users), len(model.artists))
    ids, scores = topn_from_vectors(model, vecs, seen, n, num_threads=threads)
    u_aug, i_aug = scoring_factors(model, vecs)

    def pair(rows: np.ndarray, vocab: np.ndarray) -> np.ndarray:
        out = np.full(len(rows), np.nan, dtype=np.float32)
        j = to_model[vocab]
        ok = j >= 0
        out[ok] = np.einsum("ij,ij->i", u_aug[rows[ok]], i_aug[j[ok]])
        return out

    return _Ranked(from_model[ids], scores, pair), info


def _rank_itemitem(
    model: ItemItemModel, to_model: np.ndarray, from_model: np.ndarray, c: _Chunk, n: int
) -> _Ranked:
    hist = model.history(c.rows, to_model[c.vocab], c.plays, len(c.users))
    block = model.scores(hist)
    masked = block.copy()
    masked[np.repeat(np.arange(len(c.users)), np.diff(hist.indptr)), hist.indices] = -np.inf
    ids, scores = topn_dense(masked, n)
    return _Ranked(
        from_model[ids], scores, lambda rows, vocab: _gather(block, rows, to_model[vocab])
    )


def _rank_popularity(
    model: PopularityModel, to_model: np.ndarray, from_model: np.ndarray, c: _Chunk, n: int
) -> _Ranked:
    order = model.order
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    cols = to_model[c.vocab]
    ok = cols >= 0
    heaviest = int(np.bincount(c.rows[ok], minlength=1).max()) if len(c.rows) else 0
    depth = min(n + heaviest, len(order))  # enough popular artists to leave n unseen per row
    free = np.ones((len(c.users), depth), dtype=bool)
    pos = position[cols[ok]]
    free[c.rows[ok][pos < depth], pos[pos < depth]] = False
    top = np.broadcast_to(order[:depth], free.shape)
    listeners = model.listeners.astype(np.float32)
    scores = np.where(free, listeners[top], -np.inf).astype(np.float32)
    keep = np.argsort(~free, axis=1, kind="stable")[:, : min(n, depth)]  # first n free, in order
    ids = np.take_along_axis(top, keep, axis=1)
    return _Ranked(
        from_model[ids],
        np.take_along_axis(scores, keep, axis=1),
        lambda rows, vocab: _gather(listeners[None, :], np.zeros_like(rows), to_model[vocab]),
    )


def _maps(vocab: pd.Index, artists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vocabulary code → model column or -1, with a last slot for code -1; model column →
    vocabulary code)."""
    from_model = codes_in(vocab, pd.Series(np.asarray(artists, dtype=object)))
    to_model = np.full(len(vocab) + 1, -1, dtype=np.int64)
    to_model[from_model] = np.arange(len(from_model))
    return to_model, from_model


def candidate_vocab(models: StageModels) -> pd.Index:
    """Every artist some generator of the stage can rank (sorted keys)."""
    arrays = [np.asarray(m.artists, dtype=str) for m in models.models.values()]
    return pd.Index(np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=str))


def iter_candidates(
    models: StageModels,
    history: pd.DataFrame,
    users: Any,
    n: int,
    *,
    chunk_size: int = 20_000,
    num_threads: int = THREADS,
) -> Iterator[pd.DataFrame]:
    """The union of every generator's top-``n`` unseen artists per listener, a chunk of
    listeners at a time (at least one frame): ``candidate_columns(models.names)``.

    ``history`` holds the stage's fit rows (``user, artist, plays``): what is removed, and what
    fold-in and the item-item models score from. Rows are sorted by listener then artist key;
    ``user``/``artist`` are categoricals sharing one dtype across frames. Each frame's
    ``attrs["info"]`` counts rows per generator and ALS's fitted / folded-in / popularity-only
    listeners.
    """
    users = np.unique(np.asarray(users).astype(str)).astype(object)
    vocab = candidate_vocab(models)
    dtypes = (
        pd.CategoricalDtype(pd.Index(users, dtype=str)),
        pd.CategoricalDtype(pd.Index(vocab, dtype=str)),
    )
    maps = {g: _maps(vocab, m.artists) for g, m in models.models.items()}
    rows = codes_in(pd.Index(users), history["user"])
    keep = rows >= 0
    cols = codes_in(vocab, history["artist"])[keep]
    plays = history["plays"].to_numpy(dtype=np.float64)[keep]
    rows = rows[keep]
    if np.any(rows[1:] < rows[:-1]):
        order = np.argsort(rows, kind="stable")
        rows, cols, plays = rows[order], cols[order], plays[order]
    widest = max(
        [len(m.artists) for m in models.models.values() if isinstance(m, ItemItemModel)],
        default=1,
    )
    size = max(1, min(chunk_size, CELLS // max(widest, 1)))
    bounds = np.searchsorted(rows, np.arange(0, len(users) + size, size))
    if not len(users):
        yield _union_frame(models.names, users[:0], len(vocab), {}, 0, dtypes, {})
    for c, start in enumerate(range(0, len(users), size)):
        lo, hi = bounds[c], bounds[c + 1]
        chunk = _Chunk(users[start : start + size], rows[lo:hi] - start, cols[lo:hi], plays[lo:hi])
        ranked: dict[str, _Ranked] = {}
        info: dict[str, int] = {}
        for g, model in models.models.items():
            to_model, from_model = maps[g]
            if isinstance(model, ALSModel):
                ranked[g], als_info = _rank_als(model, to_model, from_model, chunk, n, num_threads)
                info.update({f"als_{k}": v for k, v in als_info.items()})
            elif isinstance(model, ItemItemModel):
                ranked[g] = _rank_itemitem(model, to_model, from_model, chunk, n)
            else:
                ranked[g] = _rank_popularity(model, to_model, from_model, chunk, n)
        yield _union_frame(models.names, chunk.users, len(vocab), ranked, start, dtypes, info)


def _union_frame(
    names: tuple[str, ...],
    chunk_users: np.ndarray,
    n_vocab: int,
    ranked: dict[str, _Ranked],
    start: int,
    dtypes: tuple[pd.CategoricalDtype, pd.CategoricalDtype],
    info: dict[str, int],
) -> pd.DataFrame:
    """One chunk's candidate frame from each generator's top-N (pairs deduplicated)."""
    width = np.int64(max(n_vocab, 1))
    keys, ranks = {}, {}
    for g, r in ranked.items():
        ok = np.isfinite(r.scores) & (r.ids >= 0)
        row = np.broadcast_to(np.arange(r.ids.shape[0])[:, None], r.ids.shape)[ok]
        keys[g] = row.astype(np.int64) * width + r.ids[ok]
        ranks[g] = np.broadcast_to(np.arange(1, r.ids.shape[1] + 1), r.ids.shape)[ok]
    union = np.unique(np.concatenate([np.zeros(0, np.int64), *keys.values()]))
    row, code = union // width, union % width
    out = pd.DataFrame(
        {
            "user": pd.Categorical.from_codes((row + start).astype(np.int32), dtype=dtypes[0]),
            "artist": pd.Categorical.from_codes(code.astype(np.int32), dtype=dtypes[1]),
        }
    )
    for g in names:
        rank = np.full(len(union), np.nan, dtype=np.float32)
        score = np.full(len(union), np.nan, dtype=np.float32)
        if g in ranked:
            rank[np.searchsorted(union, keys[g])] = ranks[g]
            score = ranked[g].pair(row, code).astype(np.float32)
            info[f"{g}_rows"] = len(keys[g])
        out[score_column(g)] = score
        out[rank_column(g)] = rank
    info["users"] = len(chunk_users)
    info["rows"] = len(out)
    out.attrs["info"] = info
    return out


def collect_candidates(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The frames of ``iter_candidates`` as one, ``attrs["info"]`` summed."""
    parts = list(chunks)
    out = pd.concat(parts, ignore_index=True)
    info: dict[str, int] = {}
    for p in parts:
        for k, v in p.attrs["info"].items():
            info[k] = info.get(k, 0) + v
    out.attrs["info"] = info
    return out
