"""Stage two: per-candidate features and a LightGBM LambdaRank reranker.

Fixes the seed (seed-system.md §7-§8, §14.1, §14.3): features join on the same ``artist`` key, so
content features are real; distances use z-scored attributes; missing content is NaN (LightGBM
routes it) rather than 0; early stopping watches held-out *validation listeners*, never the test
split; LightGBM runs deterministic on a fixed thread count; the model is saved as LightGBM text.
Features are built with gathers and sparse row products in chunks of rows, no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .config import RerankerConfig
from .features import Z_COLUMNS, coded_matrix, explode_lists, genre_vocab, list_codes
from .ids import codes_in, factorize_sorted, vocab_of
from .metrics import pair_isin
from .parallel import ordered_map

FEATURES: tuple[str, ...] = (
    "als_score",
    "als_rank",
    "als_rank_inv",
    "als_score_gap",
    "log_item_pop_users",
    "log_item_pop_plays",
    "item_spotify_popularity",
    "pop_gap",
    "cos_profile",
    "l2_profile",
    "absdiff_profile",
    "als_x_cos",
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


def _chunk_features(
    lk: FeatureTables, ui: np.ndarray, ii: np.ndarray, score: np.ndarray, rank: np.ndarray
) -> dict[str, np.ndarray]:
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
        "als_score": score,
        "als_rank": rank,
        "als_rank_inv": 1.0 / rank,
        "log_item_pop_users": i["log_pop_listeners"][ii],
        "log_item_pop_plays": i["log_pop_plays"][ii],
        "item_spotify_popularity": i["popularity"][ii],
        "pop_gap": i["log_pop_listeners"][ii] - u["mean_log_pop"][ui],
        "cos_profile": cos,
        "l2_profile": l2,
        "absdiff_profile": absdiff,
        "als_x_cos": score * cos,
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


def feature_matrix(
    candidates: pd.DataFrame,
    tables: FeatureTables,
    *,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = 2,
) -> np.ndarray:
    """(rows × len(FEATURES)) float32 features of one stage's candidates, in FEATURES order.

    A user or artist without a profile gets NaN content features (LightGBM routes NaN). Chunks
    of ``chunk_rows`` rows are built on ``workers`` threads (disjoint rows of one output).
    """
    ui = codes_in(tables.users, candidates["user"])
    ii = codes_in(tables.items, candidates["artist"])
    ui = np.where(ui >= 0, ui, len(tables.users))
    ii = np.where(ii >= 0, ii, len(tables.items))
    score = candidates["als_score"].to_numpy(dtype=np.float32)
    rank = candidates["als_rank"].to_numpy(dtype=np.float32)
    codes = codes_in(vocab_of(candidates["user"]), candidates["user"])
    top = np.full(int(codes.max()) + 1 if len(codes) else 0, -np.inf, dtype=np.float32)
    np.maximum.at(top, codes, score)
    gap = score - top[codes] if len(codes) else score
    out = np.empty((len(candidates), len(FEATURES)), dtype=np.float32)

    def fill(start: int) -> None:
        sl = slice(start, start + chunk_rows)
        part = _chunk_features(tables, ui[sl], ii[sl], score[sl], rank[sl])
        part["als_score_gap"] = gap[sl]
        for j, f in enumerate(FEATURES):
            out[sl, j] = part[f]

    starts = range(0, len(candidates), chunk_rows)
    for _ in ordered_map(fill, starts, workers=workers if len(starts) > 1 else 0):
        pass
    return out


def rerank_frame(
    candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    labels: pd.DataFrame | None = None,
    *,
    tables: FeatureTables | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """``user, artist, [label], *FEATURES`` (float32) for one stage's candidates.

    ``user_profiles`` / ``item_features`` must be that stage's tables (or pass ``tables`` from
    ``prepare_tables`` when calling repeatedly). ``label`` (int8) marks candidate pairs in
    ``labels``. Rows keep the candidates' order.
    """
    lk = tables if tables is not None else prepare_tables(user_profiles, item_features)
    x = feature_matrix(candidates, lk, chunk_rows=chunk_rows)
    out = candidates[["user", "artist"]].reset_index(drop=True)
    if labels is not None:
        out["label"] = pair_isin(candidates, labels).astype(np.int8)
    return pd.concat([out, pd.DataFrame(x, columns=list(FEATURES))], axis=1)


def split_listeners(users: Any, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) listeners: a seeded share ``fraction`` held out, at least one each side
    when there are two or more listeners. Sorted, so the split depends only on the set and seed.
    """
    users = np.unique(np.asarray(users).astype(str))
    n_out = round(len(users) * fraction)
    if len(users) >= 2:
        n_out = min(max(n_out, 1), len(users) - 1)
    perm = np.random.default_rng(seed).permutation(len(users))
    held = np.zeros(len(users), dtype=bool)
    held[perm[:n_out]] = True
    return users[~held], users[held]


def held_out(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(row mask, listeners) of the held-out listeners of a candidate frame: the one split
    that early stopping (``train_ranker``) and the α choice (``choose_blend``) share."""
    _, users = factorize_sorted(frame["user"])
    _, held = split_listeners(users, fraction, seed)
    return codes_in(pd.Index(held), frame["user"]) >= 0, held


def _groups(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Sort by user (then ALS rank), drop users without a positive; group sizes and drop count."""
    u, users = factorize_sorted(frame["user"])
    positives = np.bincount(u, weights=frame["label"].to_numpy(np.float64), minlength=len(users))
    keep = positives[u] > 0
    order = np.lexsort((frame["als_rank"].to_numpy()[keep], u[keep]))
    sizes = np.bincount(u[keep], minlength=len(users))
    rows = np.flatnonzero(keep)[order]
    return frame.iloc[rows], sizes[sizes > 0], int((positives == 0).sum())


def ranker_params(cfg: RerankerConfig, seed: int, num_threads: int) -> dict[str, Any]:
    """LightGBM parameters from config; deterministic, fixed threads, seeded."""
    return {
        "objective": "lambdarank",
        "n_estimators": cfg.n_estimators,
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "colsample_bytree": cfg.feature_fraction,
        "subsample": cfg.bagging_fraction,
        "subsample_freq": 1 if cfg.bagging_fraction < 1 else 0,
        "reg_lambda": cfg.lambda_l2,
        "random_state": seed,
        "n_jobs": num_threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


def train_ranker(
    frame: pd.DataFrame,
    cfg: RerankerConfig,
    seed: int,
    *,
    num_threads: int = 2,
    features: tuple[str, ...] = FEATURES,
) -> tuple[lgb.Booster, dict[str, Any]]:
    """Fit LambdaRank on labelled validation-stage candidates; early-stop on held-out listeners.

    Listeners are split by ``split_listeners(…, cfg.valid_fraction, seed)``; groups without a
    positive carry no ranking signal (and score NDCG 1 in LightGBM), so they are dropped on both
    sides and counted. Returns a booster cut at the best iteration (what ``booster_to_text``
    saves) and ``info``: best_iteration, valid ndcg@eval_at (on the candidate lists), gain/split
    importances, listener and row counts.
    """
    is_held, held_users = held_out(frame, cfg.valid_fraction, seed)
    train, train_sizes, train_dropped = _groups(frame[~is_held])
    valid, valid_sizes, valid_dropped = _groups(frame[is_held])
    params = ranker_params(cfg, seed, num_threads)
    trainable = bool(len(train_sizes))
    if not trainable:
        # No listener has a validation artist among its candidates (tiny or very sparse data):
        # there is nothing to learn. One tree on all-zero labels is a constant model, so the blend
        # keeps the ALS order and the gate falls back to ALS; ``info["trainable"]`` says why.
        train = frame.sort_values(["user", "als_rank"], kind="stable")
        train_sizes = train.groupby("user", sort=False, observed=True).size().to_numpy()
        valid_sizes = np.zeros(0, dtype=int)
        params["n_estimators"] = 1
    model = lgb.LGBMRanker(**params)
    x = train[list(features)].to_numpy(dtype=np.float32)
    kwargs: dict[str, Any] = {"eval_at": [cfg.eval_at]}
    if len(valid_sizes):
        kwargs.update(
            eval_X=(valid[list(features)].to_numpy(dtype=np.float32),),
            eval_y=(valid["label"].to_numpy(),),
            eval_group=[valid_sizes],
            eval_names=["valid"],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )
    model.fit(
        x, train["label"].to_numpy(), group=train_sizes, feature_name=list(features), **kwargs
    )
    booster = model.booster_
    best = int(model.best_iteration_ or booster.current_iteration())
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    valid_ndcg = (
        float(model.best_score_["valid"][f"ndcg@{cfg.eval_at}"]) if len(valid_sizes) else None
    )
    info = {
        "trainable": trainable,
        "best_iteration": best,
        "valid_ndcg_candidates": valid_ndcg,
        "eval_at": cfg.eval_at,
        "importance_gain": _importance(booster, "gain"),
        "importance_split": _importance(booster, "split"),
        "train_listeners": len(train_sizes),
        "valid_listeners": len(valid_sizes),
        "train_rows": len(train),
        "valid_rows": len(valid),
        "dropped_no_positive_train": train_dropped,
        "dropped_no_positive_valid": valid_dropped,
        "held_out_listeners": len(held_users),
        "fit_listeners": int(frame["user"].nunique()) - len(held_users),
    }
    return booster, info


def _importance(booster: lgb.Booster, kind: str) -> dict[str, float]:
    values = booster.feature_importance(importance_type=kind)
    return {n: float(v) for n, v in zip(booster.feature_name(), values, strict=True)}


def predict(booster: lgb.Booster, frame: pd.DataFrame, *, num_threads: int = 2) -> np.ndarray:
    """Ranker scores for rows of a ``rerank_frame`` (features in the booster's own order)."""
    if not len(frame):
        return np.zeros(0)
    x = frame[booster.feature_name()].to_numpy(dtype=np.float32)
    return booster.predict(x, num_threads=num_threads)


def predict_matrix(booster: lgb.Booster, x: np.ndarray, *, num_threads: int = 2) -> np.ndarray:
    """Ranker scores for a ``feature_matrix`` (columns in FEATURES order)."""
    if not len(x):
        return np.zeros(0)
    order = [FEATURES.index(f) for f in booster.feature_name()]
    return booster.predict(
        x[:, order] if order != list(range(len(FEATURES))) else x, num_threads=num_threads
    )


def booster_to_text(booster: lgb.Booster) -> str:
    """LightGBM's own text format (no pickle); the artifact ``reranker.txt``."""
    return booster.model_to_string()


def booster_from_text(text: str) -> lgb.Booster:
    """Inverse of ``booster_to_text``."""
    return lgb.Booster(model_str=text)
