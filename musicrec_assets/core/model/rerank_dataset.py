"""Stage two's input: per-candidate features, and the labelled ``rerank_dataset``.

Features per candidate: for every generator its score, rank, log-rank and the per-listener
relative forms of its score (z-score within the listener's candidates, gap to the listener's
10th best, ratio to the listener's best) — on real listening data these carry most of what a
reranker adds —, how many generators proposed the artist, and the content and popularity
features (z-scored audio profile distances, genre overlap, tempo/valence/explicit differences,
popularity, activity). Content joins on the same ``artist`` key as everything else, missing
content is NaN (LightGBM routes it) rather than 0, and features are built with gathers and sparse
row products in chunks of rows, no per-row Python.

``build_rerank_dataset`` (asset ``rerank_dataset``) labels the validation folds' rows for the
reranker; serving and evaluation build the same features chunk by chunk (``feature_matrix``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..config import Config
from ..evaluation.metrics import pair_isin
from ..grouping import runs
from ..ids import codes_in, vocab_of
from ..parallel import THREADS, ordered_map
from .candidates import candidate_generators, reranker_folds, stage_part
from .features import (
    Z_COLUMNS,
    coded_matrix,
    content_features,
    explode_lists,
    genre_vocab,
    list_codes,
    stage_rows,
)
from .topn import rank_column, score_column

CONTENT_FEATURES: tuple[str, ...] = (
    "log_item_pop_users",
    "log_item_pop_plays",
    "item_spotify_popularity",
    "pop_gap",
    "cos_profile",
    "l2_profile",
    "absdiff_profile",
    "genre_overlap",
    "genre_jaccard",
    "tempo_diff",
    "valence_diff",
    "explicit_diff",
    "has_spotify",
    "user_n_artists",
    "user_log_total_plays",
    "user_mean_plays",
    "user_feature_share",
    "user_genre_entropy",
)
# Per generator g: g_score, g_rank (its own, NaN outside its top-N), g_log_rank and the score
# relative to the listener's candidates.
GENERATOR_FEATURES: tuple[str, ...] = ("score", "rank", "log_rank", "z", "gap10", "ratio")
GAP_AT = 10  # the listener's n-th best score that ``g_gap10`` is measured from


def feature_names(generators: tuple[str, ...]) -> tuple[str, ...]:
    """The reranker's feature columns for these generators, in matrix order."""
    per = [f"{g}_{f}" for g in generators for f in GENERATOR_FEATURES]
    return (*per, "n_generators", *CONTENT_FEATURES)


N_TOP_GENRES = 3
CHUNK_ROWS = 500_000  # candidate rows per feature chunk (~50 MB of float32 features)


@dataclass
class FeatureTables:
    """One stage's user and item tables as arrays; the last row of each is the 'unknown' row.

    Audio profiles are stored NaN-filled with 0 (the z-score mean) plus a flag for "has a
    profile at all" and the vector norm, so pairwise distances are one product per row.
    """

    users: pd.Index
    items: pd.Index
    uz: np.ndarray  # float32, NaN -> 0
    iz: np.ndarray
    u_ok: np.ndarray  # bool: any audio attribute known
    i_ok: np.ndarray
    u_norm: np.ndarray
    i_norm: np.ndarray
    ucol: dict[str, np.ndarray]
    icol: dict[str, np.ndarray]
    u_genre: sp.csr_matrix
    i_genre: sp.csr_matrix
    u_top: sp.csr_matrix
    i_top: sp.csr_matrix


def _with_unknown(a: np.ndarray) -> np.ndarray:
    pad = np.full((1, *a.shape[1:]), np.nan, dtype=a.dtype)
    return np.concatenate([a, pad])


def _top_binary(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], n: int
) -> sp.csr_matrix:
    """0/1 matrix of each row's first ``n`` genres (row-sorted ``list_codes`` output; lists are
    ranked by share)."""
    start = np.r_[0, np.cumsum(np.bincount(rows, minlength=shape[0]))[:-1]]
    first = (np.arange(len(rows)) - start[rows]) < n
    mat = coded_matrix(rows[first], cols[first], np.ones(int(first.sum())), shape)
    mat.data[:] = 1.0
    return mat


def _profile(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = _with_unknown(z.astype(np.float32))
    ok = np.isfinite(z).any(axis=1)
    filled = np.where(np.isfinite(z), z, 0.0).astype(np.float32)
    return filled, ok, np.linalg.norm(filled, axis=1)


def prepare_tables(user_profiles: pd.DataFrame, item_features: pd.DataFrame) -> FeatureTables:
    """Index one stage's profiles and item features once (reused by every chunk of candidates)."""
    vocab = genre_vocab(user_profiles["genres"], item_features["genres"])
    empty = sp.csr_matrix((1, len(vocab)))

    def genre_tables(df: pd.DataFrame) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(genre shares, top-genre 0/1) with the 'unknown' row; the lists are encoded once."""
        rows, codes = list_codes(df["genres"], vocab)
        shape = (len(df), len(vocab))
        shares = coded_matrix(rows, codes, explode_lists(df["genre_shares"])[1], shape)
        top = _top_binary(rows, codes, shape, N_TOP_GENRES)
        return sp.vstack([shares, empty]).tocsr(), sp.vstack([top, empty]).tocsr()

    u_genre, u_top = genre_tables(user_profiles)
    i_genre, i_top = genre_tables(item_features)

    def cols(df: pd.DataFrame, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {c: _with_unknown(df[c].to_numpy(dtype=np.float32)) for c in names}

    ucol = cols(
        user_profiles,
        (
            "tempo",
            "valence",
            "explicit",
            "n_artists",
            "log_total_plays",
            "mean_plays",
            "feature_share",
            "genre_entropy",
            "mean_log_pop",
        ),
    )
    icol = cols(
        item_features,
        ("tempo", "valence", "explicit", "popularity", "log_pop_listeners", "log_pop_plays"),
    )
    icol["has_spotify"] = _with_unknown(item_features["has_spotify"].to_numpy(dtype=np.float32))
    uz, u_ok, u_norm = _profile(user_profiles[list(Z_COLUMNS)].to_numpy(dtype=np.float32))
    iz, i_ok, i_norm = _profile(item_features[list(Z_COLUMNS)].to_numpy(dtype=np.float32))
    return FeatureTables(
        users=pd.Index(user_profiles["user"].to_numpy().astype(str)),
        items=pd.Index(item_features["artist"].to_numpy().astype(str)),
        uz=uz,
        iz=iz,
        u_ok=u_ok,
        i_ok=i_ok,
        u_norm=u_norm,
        i_norm=i_norm,
        ucol=ucol,
        icol=icol,
        u_genre=u_genre,
        i_genre=i_genre,
        u_top=u_top,
        i_top=i_top,
    )


def _row_dot(a: sp.csr_matrix, b: sp.csr_matrix, ai: np.ndarray, bi: np.ndarray) -> np.ndarray:
    return np.asarray(a[ai].multiply(b[bi]).sum(axis=1)).ravel()


def _chunk_features(lk: FeatureTables, ui: np.ndarray, ii: np.ndarray) -> dict[str, np.ndarray]:
    u, i = lk.ucol, lk.icol
    # Profile distances on z-scored attributes (unknown attributes sit at the mean, 0).
    uz, iz = lk.uz[ui], lk.iz[ii]
    both = lk.u_ok[ui] & lk.i_ok[ii]
    dot = np.einsum("ij,ij->i", uz, iz)
    nu, ni = lk.u_norm[ui], lk.i_norm[ii]
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(both & (nu * ni > 0), dot / (nu * ni), np.nan)
    l2 = np.where(both, np.sqrt(np.maximum(nu * nu + ni * ni - 2 * dot, 0.0)), np.nan)
    absdiff = np.where(both, np.abs(uz - iz).mean(axis=1), np.nan)
    u_has_g = np.diff(lk.u_genre.indptr)[ui] > 0
    i_has_g = np.diff(lk.i_genre.indptr)[ii] > 0
    both_g = u_has_g & i_has_g
    overlap = np.where(both_g, _row_dot(lk.u_genre, lk.i_genre, ui, ii), np.nan)
    inter = _row_dot(lk.u_top, lk.i_top, ui, ii)
    union = np.diff(lk.u_top.indptr)[ui] + np.diff(lk.i_top.indptr)[ii] - inter
    jaccard = np.where(both_g & (union > 0), inter / np.maximum(union, 1), np.nan)
    return {
        "log_item_pop_users": i["log_pop_listeners"][ii],
        "log_item_pop_plays": i["log_pop_plays"][ii],
        "item_spotify_popularity": i["popularity"][ii],
        "pop_gap": i["log_pop_listeners"][ii] - u["mean_log_pop"][ui],
        "cos_profile": cos,
        "l2_profile": l2,
        "absdiff_profile": absdiff,
        "genre_overlap": overlap,
        "genre_jaccard": jaccard,
        "tempo_diff": np.abs(u["tempo"][ui] - i["tempo"][ii]),
        "valence_diff": np.abs(u["valence"][ui] - i["valence"][ii]),
        "explicit_diff": np.abs(u["explicit"][ui] - i["explicit"][ii]),
        "has_spotify": i["has_spotify"][ii],
        "user_n_artists": u["n_artists"][ui],
        "user_log_total_plays": u["log_total_plays"][ui],
        "user_mean_plays": u["mean_plays"][ui],
        "user_feature_share": u["feature_share"][ui],
        "user_genre_entropy": u["genre_entropy"][ui],
    }


class ListenerGroups(NamedTuple):
    """Rows grouped by listener: ``order`` lists row numbers listener by listener."""

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, users: pd.Series) -> ListenerGroups:
        order, start = runs([codes_in(vocab_of(users), users)])
        starts = np.flatnonzero(start)
        return cls(order, starts, np.diff(np.r_[starts, len(order)]))


def relative_scores(score: np.ndarray, groups: ListenerGroups) -> dict[str, np.ndarray]:
    """A generator's score relative to the listener's candidates: z-score, gap to the
    listener's ``GAP_AT``-th best (their last when fewer), ratio to the best (NaN when the best
    is not positive). NaN scores (artists the generator cannot score) stay NaN."""
    n = len(score)
    out = {k: np.full(n, np.nan, dtype=np.float32) for k in ("z", "gap10", "ratio")}
    if not n:
        return out
    s = score.astype(np.float64)[groups.order]
    known = np.isfinite(s)
    filled = np.where(known, s, 0.0)
    count = np.add.reduceat(known.astype(np.float64), groups.starts)
    mean = np.add.reduceat(filled, groups.starts) / np.maximum(count, 1)
    dev = np.where(known, s - np.repeat(mean, groups.counts), 0.0)
    std = np.sqrt(np.add.reduceat(dev * dev, groups.starts) / np.maximum(count, 1))
    listener = np.repeat(np.arange(len(groups.starts)), groups.counts)
    ranked = np.lexsort((np.where(known, -s, np.inf), listener))  # best first, NaN last
    pick = groups.starts + np.clip(np.minimum(GAP_AT, count) - 1, 0, None).astype(np.int64)
    nth = s[ranked][pick]
    best = np.fmax.reduceat(np.where(known, s, -np.inf), groups.starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = dev / np.repeat(np.where(std > 0, std, 1.0), groups.counts)
        ratio = s / np.repeat(np.where(best > 0, best, np.nan), groups.counts)
    values = {"z": z, "gap10": s - np.repeat(nth, groups.counts), "ratio": ratio}
    for key, v in values.items():
        out[key][groups.order] = np.where(known, v, np.nan)
    return out


def generator_features(
    candidates: pd.DataFrame, generators: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Every generator's score, rank, log-rank and relative scores, and ``n_generators``."""
    groups = ListenerGroups.of(candidates["user"])
    out: dict[str, np.ndarray] = {}
    proposed = np.zeros(len(candidates), dtype=np.float32)
    for g in generators:
        score = candidates[score_column(g)].to_numpy(dtype=np.float32)
        rank = candidates[rank_column(g)].to_numpy(dtype=np.float32)
        out[f"{g}_score"] = score
        out[f"{g}_rank"] = rank
        out[f"{g}_log_rank"] = np.log(rank)
        out.update({f"{g}_{k}": v for k, v in relative_scores(score, groups).items()})
        proposed += np.isfinite(rank)
    out["n_generators"] = proposed
    return out


def feature_matrix(
    candidates: pd.DataFrame,
    tables: FeatureTables,
    generators: tuple[str, ...],
    *,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = THREADS,
) -> np.ndarray:
    """(rows × len(feature_names(generators))) float32 features of one stage's candidates.

    Rows of a listener must all be in ``candidates`` (the relative features compare them). A
    user or artist without a profile gets NaN content features (LightGBM routes NaN). Content
    chunks of ``chunk_rows`` rows are built on ``workers`` threads (disjoint rows of one output).
    """
    names = feature_names(generators)
    out = np.empty((len(candidates), len(names)), dtype=np.float32)
    for j, values in enumerate(generator_features(candidates, generators).values()):
        out[:, j] = values
    first = len(names) - len(CONTENT_FEATURES)
    ui = codes_in(tables.users, candidates["user"])
    ii = codes_in(tables.items, candidates["artist"])
    ui = np.where(ui >= 0, ui, len(tables.users))
    ii = np.where(ii >= 0, ii, len(tables.items))

    def fill(start: int) -> None:
        sl = slice(start, start + chunk_rows)
        part = _chunk_features(tables, ui[sl], ii[sl])
        for j, f in enumerate(CONTENT_FEATURES):
            out[sl, first + j] = part[f]

    starts = range(0, len(candidates), chunk_rows)
    for _ in ordered_map(fill, starts, workers=workers if len(starts) > 1 else 0):
        pass
    return out


def rerank_frame(
    candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    generators: tuple[str, ...],
    labels: pd.DataFrame | None = None,
    *,
    tables: FeatureTables | None = None,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = THREADS,
) -> pd.DataFrame:
    """``user, artist, [label], *feature_names(generators)`` (float32) for one stage's
    candidates (``user_profiles`` / ``item_features`` of that stage, or ``tables``).
    ``label`` (int8) marks candidate pairs in ``labels``. Rows keep the candidates' order."""
    lk = tables if tables is not None else prepare_tables(user_profiles, item_features)
    x = feature_matrix(candidates, lk, generators, chunk_rows=chunk_rows, workers=workers)
    out = candidates[["user", "artist"]].reset_index(drop=True)
    if labels is not None:
        out["label"] = pair_isin(candidates, labels).astype(np.int8)
    return pd.concat([out, pd.DataFrame(x, columns=list(feature_names(generators)))], axis=1)


def build_rerank_dataset(
    candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    splits: pd.DataFrame,
    artist_vectors: pd.DataFrame,
    artist_catalog: pd.DataFrame,
    cfg: Config,
) -> pd.DataFrame:
    """Feature rows of every validation fold's candidates: ``fold, user, artist, label`` and
    the features. Fold 0 uses the val-stage profiles and item features; each further fold's are
    built from its own fit rows. Only validation-fold labels are read, never the test split."""
    names = candidate_generators(candidates)
    folds = reranker_folds(splits, cfg)
    parts = []
    for f, fold in enumerate(folds):
        if f == 0:
            profiles, items = stage_rows(user_profiles, "val"), stage_rows(item_features, "val")
        else:
            profiles, items = content_features(fold.fit, artist_vectors, artist_catalog)
        part = stage_part(candidates, "val", f)
        frame = rerank_frame(part, profiles, items, names, fold.labels, workers=cfg.num_threads)
        parts.append(frame.assign(fold=np.int8(f)))
    out = pd.concat(parts, ignore_index=True)
    return out[["fold", *[c for c in out.columns if c != "fold"]]]
