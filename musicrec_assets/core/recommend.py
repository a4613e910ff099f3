"""The two-stage recommender end to end, as pure functions the Dagster assets call nearly 1:1.

model_selection   ← select_settings (each generator's settings searched on validation)
generator_models  ← fit_generator_stages / stages_to_npz / stages_from_npz
candidates        ← stage_candidates (validation folds and test)
user_profiles, item_features ← stage_features
rerank_dataset    ← rerank_dataset (validation folds, labelled; never reads the test split)
reranker, reranker_validation ← fit_reranker (out-of-fold choices, the gate, the final model)
reranked_topk     ← serve_topk (serve candidates, scored chunk by chunk)
evaluation_topk, evaluation_report ← evaluate (+ report.report_markdown)
web page          ← recommend_new_listener

Stages follow ``protocol``: val fits on train, test on train+val, serve on everything; test labels
are read only inside ``evaluate``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from .blend import blended_topk
from .candidates import (
    candidate_recall,
    collect_candidates,
    generator_topk,
    iter_candidates,
    rank_column,
    score_column,
)
from .config import GENERATORS, Config
from .features import item_features as build_item_features
from .features import user_profiles as build_user_profiles
from .gate import choose_ranking
from .generators import (
    Settings,
    StageModels,
    apply_choice,
    fit_stage,
    fit_stages,
    settings_from_config,
)
from .ids import codes_in, factorize_sorted
from .metrics import METRICS, bootstrap_ci, evaluate_topk
from .parallel import ordered_map
from .protocol import STAGES, StageData, fold_count, sample_users, stage_data, validation_folds
from .rerank import (
    FeatureTables,
    RankData,
    feature_matrix,
    feature_names,
    fit_booster,
    importance,
    out_of_fold,
    predict_matrix,
    prepare_tables,
    rerank_frame,
)
from .tuning import select_models

SERVE_COLUMNS = ("user", "rank", "artist", "score", "als_score", "ranker_score")
EVAL_COLUMNS = ("user", "system", "rank", "artist", "score")
NEW_LISTENER = "__new_listener__"


# --- model_selection / generator_models ------------------------------------------------------


def select_settings(
    splits: pd.DataFrame, cfg: Config, *, num_threads: int = 2
) -> tuple[dict[str, Any], dict[str, float]]:
    """``model_selection``: every tuned generator's settings searched on the validation stage
    (fit on train, scored on validation labels), with the config's explicit values fixed;
    and the seconds each search took."""
    val = stage_data(splits, "val", validate=False)
    return select_models(
        val,
        settings_from_config(cfg),
        cfg.fixed,
        cfg.tuning,
        cfg.evaluation.k,
        cfg.seed,
        num_threads=num_threads,
    )


def chosen_settings(cfg: Config, selection: dict[str, Any]) -> Settings:
    """The config's generator settings with ``model_selection``'s choices applied."""
    return apply_choice(settings_from_config(cfg), selection.get("chosen", {}))


def fit_generator_stages(
    splits: pd.DataFrame, cfg: Config, selection: dict[str, Any], *, num_threads: int = 2
) -> dict[str, StageModels]:
    """Every generator per stage (val: train, test: train+val, serve: all) with the chosen
    settings; ALS warm-starts from the previous stage when ``[als] warm_start``."""
    return fit_stages(
        splits,
        chosen_settings(cfg, selection),
        cfg.seed,
        stages=STAGES,
        names=cfg.candidates.generators,
        warm_start=cfg.als.warm_start,
        num_threads=num_threads,
    )


# --- candidates ------------------------------------------------------------------------------


def reranker_folds(splits: pd.DataFrame, cfg: Config) -> list[StageData]:
    """The validation folds the reranker learns on (fold 0 = the validation stage), for the
    seeded sample of validation listeners: the one definition every step recomputes."""
    val = stage_data(splits, "val", validate=False)
    users = sample_users(val.target_users, cfg.candidates.max_val_users, cfg.seed)
    n = fold_count(cfg.reranker.folds, len(users), cfg.reranker.fold_listeners)
    return validation_folds(splits, n, cfg.seed, users=users)


def _recalls(cands: pd.DataFrame, labels: pd.DataFrame, names: tuple[str, ...]) -> dict:
    """Candidate recall of the union and of each generator's own top-N."""
    out = {"union": candidate_recall(cands, labels)}
    for g in names:
        out[g] = candidate_recall(cands[cands[rank_column(g)].notna().to_numpy()], labels)
    return out


def stage_candidates(
    splits: pd.DataFrame,
    models: dict[str, StageModels],
    cfg: Config,
    selection: dict[str, Any],
    *,
    chunk_size: int = 20_000,
    num_threads: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Candidates of every validation fold and of the test stage in one table: ``stage, fold,
    user, artist`` and each generator's ``<g>_score``, ``<g>_rank``.

    Fold 0 comes from the val-stage models; each further fold fits every generator on its own
    fit rows (cold, so no model has seen its labels). Test listeners above
    ``[evaluation] max_users`` are the seeded sample ``evaluate`` draws. Returns (table, info):
    per part the counts and, for validation folds, the recall@N of the union and of each
    generator (test recall is computed by ``evaluate``, the only reader of test labels).
    """
    names = cfg.candidates.generators
    settings = chosen_settings(cfg, selection)
    folds = reranker_folds(splits, cfg)
    test = stage_data(splits, "test", validate=False)
    parts: list[tuple[str, int, pd.DataFrame]] = []
    info: dict[str, Any] = {"folds": len(folds)}
    for f, fold in enumerate(folds):
        t0 = time.perf_counter()
        fold_models = (
            models["val"]
            if f == 0
            else fit_stage(fold.fit, settings, cfg.seed, names=names, num_threads=num_threads)
        )
        cands = collect_candidates(
            iter_candidates(
                fold_models,
                fold.seen,
                fold.target_users,
                cfg.candidates.n,
                chunk_size=chunk_size,
                num_threads=num_threads,
            )
        )
        info[f"val_fold{f}"] = {
            **cands.attrs["info"],
            "recall": _recalls(cands, fold.labels, names),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        parts.append(("val", f, cands))
    t0 = time.perf_counter()
    users = sample_users(test.target_users, cfg.evaluation.max_users, cfg.seed)
    cands = collect_candidates(
        iter_candidates(
            models["test"],
            test.seen,
            users,
            cfg.candidates.n,
            chunk_size=chunk_size,
            num_threads=num_threads,
        )
    )
    info["test"] = {
        **cands.attrs["info"],
        "target_users": len(test.target_users),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    parts.append(("test", 0, cands))
    return _stack(parts, splits), info


def _stack(parts: list[tuple[str, int, pd.DataFrame]], splits: pd.DataFrame) -> pd.DataFrame:
    """One table of candidate parts, keys as categoricals over shared sorted vocabularies."""
    users = pd.Index(factorize_sorted(splits["user"])[1])
    artists = pd.Index(
        np.unique(np.concatenate([p["artist"].cat.categories.astype(str) for _, _, p in parts]))
    )
    stage = np.concatenate([np.full(len(p), STAGES.index(s), np.int8) for s, _, p in parts])
    out = pd.DataFrame(
        {
            "stage": pd.Categorical.from_codes(stage, categories=list(STAGES)),
            "fold": np.concatenate([np.full(len(p), f, np.int8) for _, f, p in parts]),
            "user": pd.Categorical.from_codes(
                np.concatenate([codes_in(users, p["user"]) for _, _, p in parts]).astype(np.int32),
                categories=users,
            ),
            "artist": pd.Categorical.from_codes(
                np.concatenate([codes_in(artists, p["artist"]) for _, _, p in parts]).astype(
                    np.int32
                ),
                categories=artists,
            ),
        }
    )
    for col in parts[0][2].columns[2:]:
        out[col] = np.concatenate([p[col].to_numpy() for _, _, p in parts])
    return out


def _part(candidates: pd.DataFrame, stage: str, fold: int = 0) -> pd.DataFrame:
    rows = (candidates["stage"] == stage).to_numpy() & (candidates["fold"] == fold).to_numpy()
    return candidates[rows].drop(columns=["stage", "fold"]).reset_index(drop=True)


def candidate_generators(candidates: pd.DataFrame) -> tuple[str, ...]:
    """The generators whose columns a candidate table carries, in ``GENERATORS`` order."""
    return tuple(g for g in GENERATORS if score_column(g) in candidates)


# --- user_profiles / item_features -----------------------------------------------------------


def _features(
    fit: pd.DataFrame, artist_vectors: pd.DataFrame, artist_catalog: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    items = build_item_features(fit, artist_vectors, artist_catalog)
    return build_user_profiles(fit, items), items


def stage_features(
    splits: pd.DataFrame,
    artist_vectors: pd.DataFrame,
    artist_catalog: pd.DataFrame,
    *,
    stages: tuple[str, ...] = STAGES,
    workers: int = 2,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user_profiles, item_features) with a ``stage`` column, each from that stage's fit rows.

    Stages are independent, so two are built at once (threads; same result as one by one).
    """

    def build(stage: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        profiles, items = _features(
            stage_data(splits, stage, validate=False).fit, artist_vectors, artist_catalog
        )
        return profiles.assign(stage=stage), items.assign(stage=stage)

    profiles, items = zip(*ordered_map(build, stages, workers=workers), strict=True)
    up = pd.concat(profiles, ignore_index=True)
    it = pd.concat(items, ignore_index=True)
    return _stage_first(up), _stage_first(it)


def _stage_first(df: pd.DataFrame) -> pd.DataFrame:
    return df[["stage", *[c for c in df.columns if c != "stage"]]]


def _stage(df: pd.DataFrame, stage: str) -> pd.DataFrame:
    return df[(df["stage"] == stage).to_numpy()].drop(columns="stage").reset_index(drop=True)


# --- rerank_dataset / reranker ---------------------------------------------------------------


def rerank_dataset(
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
            profiles, items = _stage(user_profiles, "val"), _stage(item_features, "val")
        else:
            profiles, items = _features(fold.fit, artist_vectors, artist_catalog)
        frame = rerank_frame(_part(candidates, "val", f), profiles, items, names, fold.labels)
        parts.append(frame.assign(fold=np.int8(f)))
    out = pd.concat(parts, ignore_index=True)
    return out[["fold", *[c for c in out.columns if c != "fold"]]]


def _fold_labels(folds: list[StageData]) -> pd.DataFrame:
    return pd.concat(
        [f.labels.assign(fold=np.int8(i)) for i, f in enumerate(folds)], ignore_index=True
    )


def fit_reranker(
    dataset: pd.DataFrame,
    splits: pd.DataFrame,
    cfg: Config,
    *,
    num_threads: int = 2,
) -> tuple[lgb.Booster, dict[str, Any]]:
    """The reranker and its validation (``reranker_validation``).

    Out-of-fold scores for each objective in ``[reranker] objectives`` choose the objective and
    α and feed the gate (``gate.choose_ranking``); the served model is then fitted on every
    validation listener with the chosen objective and the mean best iteration of its
    cross-fitted models.
    """
    names = tuple(g for g in GENERATORS if f"{g}_score" in dataset)
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


# --- scoring a stage -------------------------------------------------------------------------


def rank_candidates(
    candidates: pd.DataFrame,
    tables: FeatureTables,
    booster: lgb.Booster | None,
    choice: dict[str, Any],
    k: int,
    *,
    use_ranker: bool,
    num_threads: int = 2,
) -> pd.DataFrame:
    """Top-``k`` of candidates (whole listeners): ``user, rank, artist, score, als_score,
    ranker_score``. With the ranker: α·norm(ranker) + (1 − α)·norm(base generator) per
    listener; without (the gate failed): the base generator's own ranking, ``ranker_score`` NaN.
    """
    names = candidate_generators(candidates)
    base = score_column(choice["base"])
    if use_ranker and booster is not None and len(candidates):
        features = feature_names(names)
        x = feature_matrix(candidates, tables, names)
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


def serve_topk(
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
    num_threads: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``reranked_topk``: the served top-``k`` for every listener (the reranker's blend when the
    gate passed, else the best single generator's ranking).

    The serve models' candidates are generated and scored a chunk of listeners at a time and
    only the top-``k`` kept. Returns (table, info with the candidate counts).
    """
    sd = stage_data(splits, "serve", validate=False)
    tables = prepare_tables(_stage(user_profiles, "serve"), _stage(item_features, "serve"))
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


# --- evaluation ------------------------------------------------------------------------------


def _chunks(cands: pd.DataFrame, chunk_users: int) -> Iterator[pd.DataFrame]:
    """Whole listeners, ``chunk_users`` at a time (``cands`` sorted by listener)."""
    codes = codes_in(pd.Index(cands["user"].cat.categories), cands["user"])
    bounds = np.searchsorted(
        codes, np.arange(0, codes.max(initial=-1) + chunk_users + 1, chunk_users)
    )
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            yield cands.iloc[lo:hi]


def evaluate(
    splits: pd.DataFrame,
    candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    booster: lgb.Booster | None,
    choice: dict[str, Any],
    *,
    k: int,
    bootstrap: int,
    seed: int,
    max_users: int | None = None,
    chunk_users: int = 20_000,
    num_threads: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``evaluation_topk`` and ``evaluation_report`` on the test listeners (docs/architecture.md).

    The only reader of test labels. Every system is built from train+val only: each generator
    (its own top-K from the test-stage candidates, so popularity and item-kNN are the usual
    references), the reranked blend (the val-trained reranker with the val-chosen objective and
    α, whatever the gate decided), and, when the gate fell back, the served ranking. All are
    scored by ``evaluate_topk`` on the same listeners over the full catalogue. Above
    ``max_users`` test listeners a seeded sample is evaluated: the one ``stage_candidates``
    drew (``protocol.sample_users`` with the same seed).
    """
    sd = stage_data(splits, "test", with_labels=True, validate=False)
    users = sample_users(sd.target_users, max_users, seed)
    labels = sd.labels
    if len(users) < len(sd.target_users):
        labels = labels[codes_in(pd.Index(users), labels["user"]) >= 0].reset_index(drop=True)
    n_catalogue = int(sd.fit["artist"].nunique())
    cands = _part(candidates, "test")
    stray = codes_in(pd.Index(users), cands["user"]) < 0
    if stray.any():
        raise ValueError(
            f"candidates holds test candidates for listeners outside the evaluated sample "
            f"(e.g. {cands['user'].iloc[int(np.flatnonzero(stray)[0])]!r}): it was built with "
            "another evaluation.max_users or seed; re-materialize it"
        )
    names = candidate_generators(candidates)
    tables = prepare_tables(_stage(user_profiles, "test"), _stage(item_features, "test"))
    tops = {g: generator_topk(cands, g, k) for g in names}
    tops["reranked"] = pd.concat(
        [
            rank_candidates(c, tables, booster, choice, k, use_ranker=True, num_threads=num_threads)
            for c in _chunks(cands, chunk_users)
        ],
        ignore_index=True,
    )
    served = "reranked" if choice["use_ranker"] else choice["best_generator"]
    if served != "reranked":
        tops["served"] = tops[served]
    systems = {}
    for name, top in tops.items():
        m = evaluate_topk(top, labels, k, n_catalogue, users=users)
        systems[name] = {key: m[key] for key in (*METRICS, "coverage")}
        systems[name]["ndcg_ci95"] = bootstrap_ci(m["per_user"]["ndcg"], bootstrap, seed)
    eval_topk = pd.concat(
        [t.assign(system=name)[list(EVAL_COLUMNS)] for name, t in tops.items()],
        ignore_index=True,
    )
    eval_topk["user"] = eval_topk["user"].astype(str)
    eval_topk["artist"] = eval_topk["artist"].astype(str)
    eval_topk["rank"] = eval_topk["rank"].astype(np.int32)
    eval_topk["score"] = eval_topk["score"].astype(np.float64)

    val_cands, val = _part(candidates, "val"), stage_data(splits, "val", validate=False)
    sampled = pd.Index(factorize_sorted(val_cands["user"])[1]) if len(val_cands) else pd.Index([])
    val_labels = val.labels[codes_in(sampled, val.labels["user"]) >= 0]
    recall = {"val": _recalls(val_cands, val_labels, names), "test": _recalls(cands, labels, names)}
    n = int(cands.groupby("user", observed=True).size().max()) if len(cands) else 0
    report = {
        "k": int(k),
        "users_evaluated": len(users),
        "systems": systems,
        "chosen": {
            "served": served,
            "blend_alpha": float(choice["blend_alpha"]),
            "alpha_mode": choice.get("alpha_mode"),
            "objective": choice.get("objective"),
            "base": choice.get("base"),
            "use_ranker": bool(choice["use_ranker"]),
            "generators": list(names),
            "candidates_max": n,
            "catalogue_size": n_catalogue,
            "bootstrap": int(bootstrap),
            "test_listeners": len(sd.target_users),
            "max_users": int(max_users or 0),
        },
        "validation": {
            "gate": choice.get("gate", {}),
            "folds": choice.get("folds"),
            "generators_val_ndcg": choice.get("generators_val_ndcg", {}),
            "objectives": {
                o: {"alpha": v["alpha"], "ndcg": v["ndcg"]}
                for o, v in choice.get("objectives", {}).items()
            },
        },
        "candidate_recall": recall,
    }
    return eval_topk, report


# --- cold start ------------------------------------------------------------------------------


def _seed_plays(seed_artists: dict[str, float] | list[str] | pd.Series) -> pd.Series:
    if isinstance(seed_artists, dict | pd.Series):
        s = pd.Series(seed_artists, dtype=np.float64)
    else:
        s = pd.Series(1.0, index=pd.Index(list(seed_artists), dtype=object))
    s.index = s.index.astype(str)
    s = s[s > 0]
    return s.groupby(level=0).sum()


def recommend_new_listener(
    seed_artists: dict[str, float] | list[str],
    models: StageModels,
    booster: lgb.Booster | None,
    item_features: pd.DataFrame,
    choice: dict[str, Any],
    n: int,
    *,
    num_threads: int = 1,
) -> pd.DataFrame:
    """Recommendations for someone not in the data, from a few artists (and plays if known).

    The batch path with a one-row history: every serve-stage generator proposes candidates
    (ALS folds the listener in with implicit's ``recalculate_user``; the item-item models score
    the history row), the seeds are removed, a profile is built from the seed artists, and the
    candidates are ranked like any listener's (``rank_candidates``, the served choice).
    ``item_features`` is the serve stage's table. Returns ``rank, artist, score, als_score,
    ranker_score``; seeds no generator knows are listed in ``attrs["unknown_seeds"]``.
    """
    plays = _seed_plays(seed_artists)
    history = pd.DataFrame(
        {"user": NEW_LISTENER, "artist": plays.index.to_numpy(), "plays": plays.to_numpy()}
    )
    n_candidates = int(choice.get("candidates_n", 100))  # as many per generator as batch serving
    cands = collect_candidates(
        iter_candidates(models, history, [NEW_LISTENER], n_candidates, num_threads=num_threads)
    )
    cands = cands[~cands["artist"].astype(str).isin(plays.index).to_numpy()]
    known = set().union(*(set(np.asarray(m.artists, dtype=str)) for m in models.models.values()))
    # Item rows are independent (z-statistics are already applied), so only the seeds and the
    # candidates are needed: keeps a web request fast at 160k artists.
    needed = set(plays.index) | set(cands["artist"].astype(str))
    items = item_features[item_features["artist"].isin(needed)].drop(
        columns="stage", errors="ignore"
    )
    items = items.reset_index(drop=True)
    tables = prepare_tables(build_user_profiles(history, items), items)
    out = rank_candidates(
        cands.reset_index(drop=True),
        tables,
        booster,
        choice,
        n,
        use_ranker=bool(choice["use_ranker"]),
        num_threads=num_threads,
    )
    out = out[["rank", "artist", "score", "als_score", "ranker_score"]].reset_index(drop=True)
    out["artist"] = out["artist"].astype(str)
    out.attrs["unknown_seeds"] = sorted(set(plays.index) - known)
    return out
