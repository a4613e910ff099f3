"""``reranked_topk``: the served top-K of every listener, and the ranking every path shares.

``rank_candidates`` turns candidates into a top-K (the reranker's blend, or the base generator's
own ranking when the gate failed); batch serving (``reranked_topk``), the evaluation and the cold
start all call it, so what is measured is what is served.
"""

from __future__ import annotations

import time
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from ..evaluation.protocol import stage_data
from ..parallel import THREADS
from .blend import blended_topk
from .candidates import candidate_generators
from .features import stage_rows
from .generators.stages import StageModels
from .rerank_dataset import FeatureTables, feature_matrix, feature_names, prepare_tables
from .reranker import predict_matrix
from .topn import iter_candidates, score_column

SERVE_COLUMNS = ("user", "rank", "artist", "score", "als_score", "ranker_score")


def rank_candidates(
    candidates: pd.DataFrame,
    tables: FeatureTables,
    booster: lgb.Booster | None,
    choice: dict[str, Any],
    k: int,
    *,
    use_ranker: bool,
    num_threads: int = THREADS,
) -> pd.DataFrame:
    """Top-``k`` of candidates (whole listeners): ``user, rank, artist, score, als_score,
    ranker_score``. With the ranker: α·norm(ranker) + (1 − α)·norm(base generator) per
    listener; without (the gate failed): the base generator's own ranking, ``ranker_score`` NaN.
    """
    names = candidate_generators(candidates)
    base = score_column(choice["base"])
    if use_ranker and booster is not None and len(candidates):
        features = feature_names(names)
        x = feature_matrix(candidates, tables, names, workers=num_threads)
        ranker = predict_matrix(booster, x, features, num_threads=num_threads)
        alpha = float(choice["blend_alpha"])
    else:
        ranker, alpha = np.full(len(candidates), np.nan), 0.0
    scored = pd.DataFrame(
        {
            "user": candidates["user"],
            "artist": candidates["artist"],
            "base": candidates[base].to_numpy(dtype=np.float64),
            "als_score": candidates[score_column("als")].to_numpy(dtype=np.float64),
            "ranker_score": ranker,
        }
    )
    out = blended_topk(scored, alpha, k, base_col="base")
    return out[list(SERVE_COLUMNS)]


def reranked_topk(
    splits: pd.DataFrame,
    models: StageModels,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    booster: lgb.Booster | None,
    choice: dict[str, Any],
    k: int,
    n: int,
    *,
    chunk_users: int = 20_000,
    num_threads: int = THREADS,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``reranked_topk``: the served top-``k`` for every listener (the reranker's blend when the
    gate passed, else the best single generator's ranking).

    The serve models' candidates are generated and scored a chunk of listeners at a time and
    only the top-``k`` kept. Returns (table, info with the candidate counts).
    """
    sd = stage_data(splits, "serve", validate=False)
    tables = prepare_tables(stage_rows(user_profiles, "serve"), stage_rows(item_features, "serve"))
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    parts = []
    chunks = iter_candidates(
        models, sd.seen, sd.target_users, n, chunk_size=chunk_users, num_threads=num_threads
    )
    for cand in chunks:
        for key, value in cand.attrs["info"].items():
            info[key] = info.get(key, 0) + value
        parts.append(
            rank_candidates(
                cand,
                tables,
                booster,
                choice,
                k,
                use_ranker=bool(choice["use_ranker"]),
                num_threads=num_threads,
            )
        )
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return pd.concat(parts, ignore_index=True), info
