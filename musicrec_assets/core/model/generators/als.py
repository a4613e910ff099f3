"""Stage one: implicit's ALS on one stage's listener × artist plays, and the one scoring function.

Fixes the seed (docs/architecture.md, "What the seed project got wrong"): BM25 is oriented with
artists as the "documents" (as implicit's own examples do) and K1/B come from config; the k-core
filter re-indexes, so every scorable artist has a fitted vector; cosine normalisation and the
popularity prior live in ``scoring_factors`` only, which candidates, cold start and evaluation all
go through; the model is CPU-only, seeded, on the configured thread count, and saved as plain
arrays (no pickle).

One algorithm, one module (as in ``implicit``): weighting, k-core, fit with warm start, scoring
and fold-in share the model's id maps and factors, so the file stays whole at ~410 lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight
from threadpoolctl import threadpool_limits

from ...config import ALSConfig
from ...ids import factorize_sorted
from ...parallel import THREADS

_EPS = 1e-12
_PARAMS = ("weighting", "bm25_k1", "bm25_b", "alpha", "regularization", "cosine", "pop_blend")


@dataclass
class ALSModel:
    """Fitted factors with their id maps and what scoring and fold-in need to reproduce the fit."""

    user_factors: np.ndarray  # float32 (n_users, factors)
    item_factors: np.ndarray  # float32 (n_artists, factors)
    users: np.ndarray  # str, sorted: row i of user_factors
    artists: np.ndarray  # str, sorted: row j of item_factors
    item_plays: np.ndarray  # float64 raw plays per artist in the fit matrix (popularity prior)
    item_listeners: np.ndarray  # int64 listeners per artist in the fit matrix
    bm25_length_norm: np.ndarray  # float64 BM25 length norm per artist (ones unless bm25)
    weighting: str = "bm25"
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    alpha: float = 10.0
    regularization: float = 0.05
    cosine: bool = True
    pop_blend: float = 0.0
    info: dict[str, float] = field(default_factory=dict)

    @property
    def factors(self) -> int:
        return int(self.item_factors.shape[1])

    def user_index(self, users: Any) -> np.ndarray:
        """Row of each user in ``user_factors`` (-1 when the model does not know the user)."""
        return pd.Index(self.users).get_indexer(pd.Index(np.asarray(users, dtype=object)))

    def artist_index(self, artists: Any) -> np.ndarray:
        """Row of each artist in ``item_factors`` (-1 when filtered out or never seen)."""
        return pd.Index(self.artists).get_indexer(pd.Index(np.asarray(artists, dtype=object)))

    def to_npz(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (strings as unicode arrays, so no pickle is needed)."""
        arrays = {
            "user_factors": self.user_factors,
            "item_factors": self.item_factors,
            "users": np.asarray(self.users, dtype=str),
            "artists": np.asarray(self.artists, dtype=str),
            "item_plays": self.item_plays,
            "item_listeners": self.item_listeners,
            "bm25_length_norm": self.bm25_length_norm,
            "weighting": np.asarray(self.weighting),
            "params": np.asarray([float(getattr(self, p)) for p in _PARAMS[1:]]),
            "param_names": np.asarray(_PARAMS[1:]),
            "info_keys": np.asarray(list(self.info), dtype=str),
            "info_values": np.asarray(list(self.info.values()), dtype=np.float64),
        }
        return {prefix + k: v for k, v in arrays.items()}

    @classmethod
    def from_npz(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> ALSModel:
        """Inverse of ``to_npz``."""
        a = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        params = dict(zip(a["param_names"].tolist(), a["params"].tolist(), strict=True))
        return cls(
            user_factors=a["user_factors"].astype(np.float32, copy=False),
            item_factors=a["item_factors"].astype(np.float32, copy=False),
            users=a["users"].astype(object),
            artists=a["artists"].astype(object),
            item_plays=a["item_plays"],
            item_listeners=a["item_listeners"],
            bm25_length_norm=a["bm25_length_norm"],
            weighting=str(a["weighting"]),
            bm25_k1=params["bm25_k1"],
            bm25_b=params["bm25_b"],
            alpha=params["alpha"],
            regularization=params["regularization"],
            cosine=bool(params["cosine"]),
            pop_blend=params["pop_blend"],
            info=dict(zip(a["info_keys"].tolist(), a["info_values"].tolist(), strict=True)),
        )


def kcore_mask(
    user_codes: np.ndarray, item_codes: np.ndarray, min_user: int, min_item: int
) -> tuple[np.ndarray, int]:
    """Rows kept by the iterative k-core filter (distinct pairs per user / per artist).

    Returns (mask, rounds). Loops over filter rounds only, each round is vectorised.
    """
    keep = np.ones(len(user_codes), dtype=bool)
    rounds = 0
    if min_user <= 1 and min_item <= 1:
        return keep, rounds
    nu = int(user_codes.max()) + 1 if len(user_codes) else 0
    ni = int(item_codes.max()) + 1 if len(item_codes) else 0
    while True:
        rounds += 1
        u_deg = np.bincount(user_codes[keep], minlength=nu)
        i_deg = np.bincount(item_codes[keep], minlength=ni)
        new = keep & (u_deg[user_codes] >= min_user) & (i_deg[item_codes] >= min_item)
        if new.sum() == keep.sum():
            return new, rounds
        keep = new


def row_weights(
    model: ALSModel, row_codes: np.ndarray, item_codes: np.ndarray, plays: np.ndarray
) -> np.ndarray:
    """Weights of (row, artist, plays) triples as the fit weighted them (used for fold-in).

    bm25 with artists as documents: tf saturates by the artist's length norm, idf is per listener
    ``ln(n_artists) - ln(1 + artists of the listener)`` (implicit's ``bm25_weight`` on the
    artist × listener matrix); weights ≤ 0 (a listener of nearly every artist) are floored to a
    small positive value instead of turning into "dislikes".
    """
    plays = np.asarray(plays, dtype=np.float64)
    if model.weighting == "none":
        return plays
    if model.weighting == "log1p":
        return np.log1p(plays)
    n_items = len(model.artists)
    k1 = model.bm25_k1
    per_row = np.bincount(row_codes)
    idf = np.log(float(n_items)) - np.log1p(per_row[row_codes])
    tf = plays * (k1 + 1.0) / (k1 * model.bm25_length_norm[item_codes] + plays)
    return _floor(tf * idf)


def _floor(w: np.ndarray) -> np.ndarray:
    positive = w > 0
    if positive.all():
        return w
    floor = float(w[positive].min()) * 0.1 if positive.any() else 1e-3
    return np.where(positive, w, floor)


def _weight_matrix(plays: sp.csr_matrix, cfg: ALSConfig) -> tuple[sp.csr_matrix, np.ndarray, int]:
    """Weighted users × artists matrix, BM25 length norms per artist, and the floored count."""
    n_items = plays.shape[1]
    norm = np.ones(n_items)
    if cfg.weighting == "none":
        return plays.astype(np.float32), norm, 0
    if cfg.weighting == "log1p":
        w = plays.copy().astype(np.float32)
        w.data = np.log1p(w.data)
        return w, norm, 0
    # implicit's lastfm example: bm25_weight(artist_user_plays, K1, B) — artists are the rows.
    item_user = plays.T.tocoo()
    weighted = bm25_weight(item_user, K1=cfg.bm25_k1, B=cfg.bm25_b).T.tocsr()
    row_sums = np.ravel(item_user.sum(axis=1))
    norm = (1.0 - cfg.bm25_b) + cfg.bm25_b * row_sums / row_sums.mean()
    floored = int((weighted.data <= 0).sum())
    weighted.data = _floor(weighted.data)
    return weighted.astype(np.float32), norm, floored


def _implicit(
    factors: int, reg: float, alpha: float, seed: int, threads: int
) -> AlternatingLeastSquares:
    """A CPU ALS object (never the GPU build); created under one BLAS thread so implicit's
    BLAS check agrees even when the environment variable was set too late."""
    with threadpool_limits(1, "blas"):
        return _als_object(factors, reg, alpha, seed, threads)


def _als_object(
    factors: int, reg: float, alpha: float, seed: int, threads: int
) -> AlternatingLeastSquares:
    return AlternatingLeastSquares(
        factors=factors,
        regularization=reg,
        alpha=alpha,
        dtype=np.float32,
        iterations=1,
        calculate_training_loss=False,
        num_threads=threads,
        random_state=seed,
    )


@dataclass(frozen=True)
class TrainMatrix:
    """A stage's listener × artist matrix as ALS fits it (after k-core, re-indexed, weighted)."""

    matrix: sp.csr_matrix  # raw plays
    weighted: sp.csr_matrix  # what implicit fits (weights; confidence = alpha × weight)
    users: np.ndarray  # listener keys of the rows
    artists: np.ndarray  # artist keys of the columns
    bm25_length_norm: np.ndarray
    info: dict[str, float]


def _compact(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(new codes, kept old codes): re-index ``codes`` to 0..m-1 keeping their order."""
    present = np.bincount(codes, minlength=n) > 0
    return (np.cumsum(present) - 1)[codes], np.flatnonzero(present)


def train_matrix(interactions: pd.DataFrame, cfg: ALSConfig) -> TrainMatrix:
    """Build the matrix ALS fits: ids sorted, k-core filtered, re-indexed, then weighted."""
    u, users_all = factorize_sorted(interactions["user"])
    i, items_all = factorize_sorted(interactions["artist"])
    keep, rounds = kcore_mask(u, i, cfg.min_user_artists, cfg.min_artist_listeners)
    u, users = _compact(u[keep], len(users_all))
    i, items = _compact(i[keep], len(items_all))
    plays = interactions["plays"].to_numpy(dtype=np.float64)[keep]
    matrix = sp.csr_matrix((plays, (u, i)), shape=(len(users), len(items)))
    matrix.sum_duplicates()
    weighted, norm, floored = _weight_matrix(matrix, cfg)
    info = {
        "pairs_in": float(len(interactions)),
        "pairs_fit": float(matrix.nnz),
        "users_in": float(len(users_all)),
        "artists_in": float(len(items_all)),
        "users_fit": float(len(users)),
        "artists_fit": float(len(items)),
        "users_filtered": float(len(users_all) - len(users)),
        "artists_filtered": float(len(items_all) - len(items)),
        "kcore_rounds": float(rounds),
        "weights_floored": float(floored),
    }
    return TrainMatrix(matrix, weighted, users_all[users], items_all[items], norm, info)


def initial_factors(
    keys: np.ndarray, factors: int, seed: int, warm: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """implicit's own initialisation (uniform × 0.01, seeded), with the rows of keys that a
    previous model knows (``warm`` = (keys, factors)) copied from it."""
    out = np.random.default_rng(seed).random((len(keys), factors), dtype=np.float32) * 0.01
    if warm is not None and len(keys):
        prev_keys, prev = warm
        pos = pd.Index(prev_keys).get_indexer(pd.Index(keys))
        out[pos >= 0] = prev[pos[pos >= 0]]
    return out


def fit_als(
    interactions: pd.DataFrame,
    cfg: ALSConfig,
    seed: int,
    *,
    num_threads: int = THREADS,
    warm_start: ALSModel | None = None,
) -> ALSModel:
    """Fit ALS on one stage's (user, artist, plays) rows; ids sorted and re-indexed after k-core.

    Confidence = ``cfg.alpha`` × weight (implicit multiplies by its ``alpha``), so fold-in through
    ``recalculate_user`` applies the same scale. With ``warm_start`` (the previous stage's model,
    fitted on a subset of these rows) the factors start from its vectors and only
    ``cfg.warm_iterations`` sweeps run: the stages differ by a tenth of the pairs, so a few
    sweeps reach the loss that 20 cold ones do (benchmarks/tune_als.py ``--warm``).
    """
    tm = train_matrix(interactions, cfg)
    matrix, weighted = tm.matrix, tm.weighted
    als = _implicit(cfg.factors, cfg.regularization, cfg.alpha, seed, num_threads)
    als.iterations = cfg.iterations
    info = dict(tm.info)
    if matrix.nnz:
        if warm_start is not None and warm_start.factors == cfg.factors:
            users = (warm_start.users, warm_start.user_factors)
            items = (warm_start.artists, warm_start.item_factors)
            als.user_factors = initial_factors(tm.users, cfg.factors, seed, users)
            als.item_factors = initial_factors(tm.artists, cfg.factors, seed + 1, items)
            als.iterations = cfg.warm_iterations
        with threadpool_limits(1, "blas"):
            als.fit(weighted, show_progress=False)
        uf, itf = np.asarray(als.user_factors), np.asarray(als.item_factors)
    else:
        uf = np.zeros((0, cfg.factors), np.float32)
        itf = np.zeros((0, cfg.factors), np.float32)
    info["iterations"] = float(als.iterations)
    info["warm_started"] = float(warm_start is not None and bool(matrix.nnz))
    return ALSModel(
        user_factors=uf.astype(np.float32),
        item_factors=itf.astype(np.float32),
        users=tm.users,
        artists=tm.artists,
        item_plays=np.asarray(matrix.sum(axis=0)).ravel(),
        item_listeners=np.diff(matrix.tocsc().indptr).astype(np.int64),
        bm25_length_norm=tm.bm25_length_norm,
        weighting=cfg.weighting,
        bm25_k1=cfg.bm25_k1,
        bm25_b=cfg.bm25_b,
        alpha=cfg.alpha,
        regularization=cfg.regularization,
        cosine=cfg.cosine,
        pop_blend=float(np.clip(cfg.pop_blend, 0.0, 1.0)),
        info=info,
    )


def popularity_prior(model: ALSModel) -> np.ndarray:
    """ln(1 + fit plays) / max, in [0, 1]; the prior ``pop_blend`` mixes in."""
    prior = np.log1p(model.item_plays)
    top = prior.max() if len(prior) else 0.0
    return (prior / top if top > 0 else np.zeros_like(prior)).astype(np.float32)


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, _EPS)


def scoring_factors(model: ALSModel, user_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Augmented (user, item) factors whose dot product is THE score of this model.

    score(u, i) = (1 − β)·sim(u, i) + β·prior(i), with sim the cosine (``cosine``) or the raw dot
    product and β = ``pop_blend``. The prior is an extra column, so any top-N over dot products
    (implicit's ``recommend``) ranks by exactly this score. A listener without a vector (all-zero
    row: nothing known) gets weight 1 on the prior, i.e. a popularity ranking, instead of ties.
    """
    beta = model.pop_blend
    uv = np.asarray(user_vectors, dtype=np.float32)
    iv = model.item_factors
    if model.cosine:
        uv, iv = _normalise_rows(uv), _normalise_rows(iv)
    cold = ~np.any(uv != 0, axis=1)
    u_aug = np.hstack([(1.0 - beta) * uv, np.where(cold, 1.0, beta)[:, None]])
    i_aug = np.hstack([iv, popularity_prior(model)[:, None]])
    return u_aug.astype(np.float32), i_aug.astype(np.float32)


def score(model: ALSModel, user_vectors: np.ndarray) -> np.ndarray:
    """Dense scores (n_users × n_artists) through ``scoring_factors``; for small batches only."""
    u_aug, i_aug = scoring_factors(model, user_vectors)
    with threadpool_limits(1, "blas"):
        return u_aug @ i_aug.T


def fold_in_rows(
    model: ALSModel,
    rows: np.ndarray,
    artists: np.ndarray,
    plays: np.ndarray,
    n_rows: int,
    *,
    num_threads: int = THREADS,
) -> np.ndarray:
    """User vectors for listeners the model never saw, from (row, artist, plays) triples.

    Uses implicit's ``recalculate_user`` (one least-squares solve against the fixed artist
    factors) with the fit's own weighting and alpha; artists unknown to the model are ignored and
    a row with none known stays all-zero (scored by popularity, see ``scoring_factors``).
    """
    return fold_in_codes(
        model, rows, model.artist_index(artists), plays, n_rows, num_threads=num_threads
    )


def fold_in_codes(
    model: ALSModel,
    rows: np.ndarray,
    items: np.ndarray,
    plays: np.ndarray,
    n_rows: int,
    *,
    num_threads: int = THREADS,
) -> np.ndarray:
    """``fold_in_rows`` with artists given as rows of ``item_factors`` (-1: unknown, ignored)."""
    ok = np.asarray(items) >= 0
    rows, item = np.asarray(rows)[ok], np.asarray(items)[ok]
    plays = np.asarray(plays, dtype=np.float64)[ok]
    out = np.zeros((n_rows, model.factors), dtype=np.float32)
    if not len(rows) or not len(model.artists):
        return out
    w = row_weights(model, rows, item, plays)
    mat = sp.csr_matrix((w.astype(np.float32), (rows, item)), shape=(n_rows, len(model.artists)))
    mat.sum_duplicates()
    als = _implicit(model.factors, model.regularization, model.alpha, 0, num_threads)
    als.item_factors = model.item_factors
    als.user_factors = np.zeros((1, model.factors), dtype=np.float32)
    with threadpool_limits(1, "blas"):
        out[:] = als.recalculate_user(np.arange(n_rows), mat)
    return out


def fold_in(
    model: ALSModel, artist_plays: dict[str, float] | pd.Series, *, num_threads: int = THREADS
) -> np.ndarray:
    """One new listener's vector from their artists and plays (cold start for the web page)."""
    s = pd.Series(artist_plays, dtype=np.float64)
    vec = fold_in_rows(
        model,
        np.zeros(len(s), dtype=np.int64),
        s.index.to_numpy().astype(str),
        s.to_numpy(),
        1,
        num_threads=num_threads,
    )
    return vec[0]
