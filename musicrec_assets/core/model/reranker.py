"""``reranker`` and ``reranker_validation``: the LightGBM ranker, learnt on validation folds only.

``fit_reranker`` runs the whole stage: out-of-fold predictions over groups of listeners
(``out_of_fold``: each listener scored by a model that never saw them) choose the objective and
the blend α and feed the gate (``gate.choose_ranking``), then one model is fitted on every
listener. ``RankData`` bins the rows once for every fit. LightGBM runs deterministic on a fixed
thread count; the model is saved as LightGBM text (no pickle).
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from ..config import Config, RerankerConfig
from ..evaluation.protocol import StageData, listener_groups, split_listeners
from ..ids import sorted_codes
from ..parallel import THREADS
from .candidates import candidate_generators, reranker_folds
from .gate import choose_ranking
from .rerank_dataset import feature_names


class RankData:
    """Labelled candidate rows grouped by query (fold, listener), binned by LightGBM once.

    Every fit of the reranker (the cross-fitted models, the final one) trains on whole queries
    of this one ``lgb.Dataset`` through ``subset``, so the feature histograms are built once
    instead of once per fit. Queries without a positive carry no ranking signal (and score NDCG
    1 in LightGBM), so they are never trained or early-stopped on.
    """

    def __init__(self, frame: pd.DataFrame, features: tuple[str, ...], params: dict[str, Any]):
        # Queries in (fold, listener) order and each query's rows in artist order (all in string
        # order), so the model never depends on the order of the frame's rows.
        fold = frame["fold"].to_numpy() if "fold" in frame else np.zeros(len(frame), np.int8)
        user = sorted_codes(frame["user"])[0]
        self.order = np.lexsort((sorted_codes(frame["artist"])[0], user, fold))
        f, u = fold[self.order], user[self.order]
        new = np.r_[True, (f[1:] != f[:-1]) | (u[1:] != u[:-1])] if len(f) else np.zeros(0, bool)
        self.starts = np.flatnonzero(new)
        self.sizes = np.diff(np.r_[self.starts, len(f)])
        label = frame["label"].to_numpy()[self.order]
        self.positive = np.add.reduceat(label, self.starts) > 0 if len(label) else label > 0
        first = frame["user"].iloc[self.order[self.starts]] if len(label) else frame["user"]
        self.users = first.astype(str).to_numpy()  # listener of each query
        self.x = frame[list(features)].to_numpy(dtype=np.float32)[self.order]
        self.features = features
        self.data = lgb.Dataset(
            self.x,
            label=label,
            group=self.sizes,
            feature_name=list(features),
            params={k: v for k, v in params.items() if k in ("verbose", "num_threads", "max_bin")},
            free_raw_data=False,
        ).construct()

    def rows(self, queries: np.ndarray) -> np.ndarray:
        """Dataset rows of the selected queries (a boolean mask over queries), in order."""
        q = np.flatnonzero(queries)
        sizes = self.sizes[q]
        shift = self.starts[q] - np.r_[0, np.cumsum(sizes)[:-1]]
        return np.arange(int(sizes.sum())) + np.repeat(shift, sizes)

    def subset(self, queries: np.ndarray) -> lgb.Dataset:
        return self.data.subset(self.rows(queries).astype(np.int32))


def ranker_params(
    cfg: RerankerConfig, objective: str, seed: int, num_threads: int
) -> dict[str, Any]:
    """LightGBM parameters from config; deterministic, fixed threads, seeded. Every objective
    is early-stopped on the same metric, NDCG at ``eval_at`` within a listener's candidates."""
    return {
        "objective": objective,
        "metric": "ndcg",
        "eval_at": [cfg.eval_at],
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_child_samples,
        "feature_fraction": cfg.feature_fraction,
        "bagging_fraction": cfg.bagging_fraction,
        "bagging_freq": 1 if cfg.bagging_fraction < 1 else 0,
        "lambda_l2": cfg.lambda_l2,
        "seed": seed,
        "num_threads": num_threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


def fit_booster(
    data: RankData,
    queries: np.ndarray,
    cfg: RerankerConfig,
    objective: str,
    seed: int,
    *,
    rounds: int | None = None,
    num_threads: int = THREADS,
) -> tuple[lgb.Booster, dict[str, Any]]:
    """One LightGBM model on the selected queries (a boolean mask over ``data``'s queries).

    With ``rounds`` it trains exactly that many trees on all of them; otherwise a seeded
    ``valid_fraction`` of their listeners is held out and training early-stops on their NDCG.
    """
    params = ranker_params(cfg, objective, seed, num_threads)
    usable = queries & data.positive
    if rounds is None:
        _, held = split_listeners(np.unique(data.users[usable]), cfg.valid_fraction, seed)
        is_held = np.isin(data.users, held)
    else:
        is_held = np.zeros(len(usable), dtype=bool)
    train, valid = usable & ~is_held, usable & is_held
    trainable = bool(train.any())
    kwargs: dict[str, Any] = {}
    if rounds is None and valid.any() and trainable:
        kwargs["valid_sets"] = [data.subset(valid)]
        kwargs["valid_names"] = ["valid"]
        kwargs["callbacks"] = [lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)]
    # Nothing to learn (no positive among the candidates): one tree on every selected query,
    # a constant model, so the blend keeps the base order and the gate falls back.
    train_set = data.subset(train if trainable else queries)
    n = rounds if rounds is not None else cfg.n_estimators
    booster = lgb.train(params, train_set, num_boost_round=n if trainable else 1, **kwargs)
    best = int(booster.best_iteration or booster.current_iteration())
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    info = {
        "objective": objective,
        "trainable": trainable,
        "best_iteration": best,
        "train_queries": int(train.sum()),
        "valid_queries": int(valid.sum()),
        "train_rows": int(data.sizes[train].sum()),
        "dropped_no_positive": int((queries & ~data.positive).sum()),
    }
    return booster, info


def importance(booster: lgb.Booster, kind: str) -> dict[str, float]:
    """Feature importances by ``gain`` or ``split``."""
    values = booster.feature_importance(importance_type=kind)
    return {n: float(v) for n, v in zip(booster.feature_name(), values, strict=True)}


def out_of_fold(
    data: RankData,
    cfg: RerankerConfig,
    objective: str,
    seed: int,
    *,
    num_threads: int = THREADS,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Scores of every row (in the frame's order) from a model that never saw its listener in
    any fold: listeners are dealt into ``cfg.crossfit`` groups, each scored by a model fitted on
    the others."""
    groups = listener_groups(data.users, cfg.crossfit, seed)
    group = groups.to_numpy()[groups.index.get_indexer(data.users)]
    scores = np.full(len(data.order), np.nan)
    infos = []
    for g in range(cfg.crossfit):
        held = group == g
        if not held.any() or held.all():
            continue
        booster, info = fit_booster(data, ~held, cfg, objective, seed + g, num_threads=num_threads)
        rows = data.rows(held)
        scores[data.order[rows]] = booster.predict(data.x[rows], num_threads=num_threads)
        infos.append({"group": g, **info})
    return scores, infos


def predict(booster: lgb.Booster, frame: pd.DataFrame, *, num_threads: int = THREADS) -> np.ndarray:
    """Ranker scores for rows of a ``rerank_frame`` (features in the booster's own order)."""
    if not len(frame):
        return np.zeros(0)
    x = frame[booster.feature_name()].to_numpy(dtype=np.float32)
    return booster.predict(x, num_threads=num_threads)


def predict_matrix(
    booster: lgb.Booster, x: np.ndarray, features: tuple[str, ...], *, num_threads: int = THREADS
) -> np.ndarray:
    """Ranker scores for a ``feature_matrix`` whose columns are ``features``."""
    if not len(x):
        return np.zeros(0)
    order = [features.index(f) for f in booster.feature_name()]
    x = x if order == list(range(len(features))) else x[:, order]
    return booster.predict(x, num_threads=num_threads)


def booster_to_text(booster: lgb.Booster) -> str:
    """LightGBM's own text format (no pickle); the artifact ``reranker.txt``."""
    return booster.model_to_string()


def booster_from_text(text: str) -> lgb.Booster:
    """Inverse of ``booster_to_text``."""
    return lgb.Booster(model_str=text)


def _fold_labels(folds: list[StageData]) -> pd.DataFrame:
    return pd.concat(
        [f.labels.assign(fold=np.int8(i)) for i, f in enumerate(folds)], ignore_index=True
    )


def fit_reranker(
    dataset: pd.DataFrame,
    splits: pd.DataFrame,
    cfg: Config,
    *,
    num_threads: int = THREADS,
) -> tuple[lgb.Booster, dict[str, Any]]:
    """The reranker and its validation (``reranker_validation``).

    Out-of-fold scores for each objective in ``[reranker] objectives`` choose the objective and
    α and feed the gate (``gate.choose_ranking``); the served model is then fitted on every
    validation listener with the chosen objective and the mean best iteration of its
    cross-fitted models.
    """
    names = candidate_generators(dataset)
    features = feature_names(names)
    folds = reranker_folds(splits, cfg)
    data = RankData(dataset, features, {"num_threads": num_threads, "verbose": -1})
    oof, crossfit = {}, {}
    for objective in cfg.reranker.objectives:
        oof[objective], crossfit[objective] = out_of_fold(
            data, cfg.reranker, objective, cfg.seed, num_threads=num_threads
        )
    choice = choose_ranking(
        dataset,
        _fold_labels(folds),
        oof,
        names,
        k=cfg.evaluation.k,
        n_catalogue=int(folds[0].fit["artist"].nunique()),
        grid=cfg.blend.grid,
        alpha=cfg.blend.alpha,
        confidence=cfg.reranker.gate_confidence,
        bootstrap=cfg.evaluation.bootstrap,
        seed=cfg.seed,
        min_listeners=cfg.reranker.gate_min_listeners,
    )
    iterations = [c["best_iteration"] for c in crossfit[choice["objective"]]] or [1]
    rounds = max(1, round(float(np.mean(iterations))))
    booster, info = fit_booster(
        data,
        np.ones(len(data.sizes), dtype=bool),
        cfg.reranker,
        choice["objective"],
        cfg.seed,
        rounds=rounds,
        num_threads=num_threads,
    )
    for objective in crossfit:
        choice["objectives"][objective]["crossfit"] = crossfit[objective]
    training = {
        **info,
        "features": list(features),
        "listeners": int(dataset["user"].nunique()),
        "rows": len(dataset),
        "importance_gain": importance(booster, "gain"),
        "importance_split": importance(booster, "split"),
    }
    return booster, {"training": training, **choice, "candidates_n": cfg.candidates.n}
