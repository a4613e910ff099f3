"""The two-stage recommender end to end, as pure functions the Dagster assets call nearly 1:1.

als_model        ← fit_stage_models / models_to_npz / models_from_npz
als_candidates   ← stage_candidates (val and test)
user_profiles, item_features ← stage_features
rerank_dataset   ← rerank_dataset (validation stage, labelled; never reads the test split)
reranker         ← fit_reranker (+ choose_blend for α and the gate)
reranked_topk    ← serve_topk (serve candidates, scored chunk by chunk)
evaluation_topk, evaluation_report ← evaluate (+ report_markdown)
web page         ← recommend_new_listener

Stages follow ``protocol``: val fits on train, test on train+val, serve on everything; test labels
are read only inside ``evaluate``.
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .als import ALSModel, fit_als, fold_in
from .baselines import itemknn_topk, popularity_topk
from .blend import blended_topk, choose_alpha, sorted_codes, topk
from .candidates import als_candidates, candidate_recall, iter_als_candidates, topn_from_vectors
from .config import ALSConfig, BlendConfig, RerankerConfig
from .features import item_features as build_item_features
from .features import user_profiles as build_user_profiles
from .ids import codes_in, factorize_sorted
from .metrics import METRICS, bootstrap_ci, evaluate_topk
from .parallel import ordered_map
from .protocol import FIT_SPLITS, STAGES, sample_users, stage_data
from .rerank import (
    FeatureTables,
    feature_matrix,
    held_out,
    predict,
    predict_matrix,
    prepare_tables,
    rerank_frame,
)
from .rerank import train_ranker as _train_ranker

SERVE_COLUMNS = ("user", "rank", "artist", "score", "als_score", "ranker_score")
EVAL_COLUMNS = ("user", "system", "rank", "artist", "score")
SYSTEMS = ("popularity", "als", "itemknn", "reranked")
NEW_LISTENER = "__new_listener__"
# Stages whose candidates are stored; serving generates and scores its own chunk by chunk.
CANDIDATE_STAGES: tuple[str, ...] = ("val", "test")


# --- als_model -------------------------------------------------------------------------------


def fit_stage_models(
    splits: pd.DataFrame,
    cfg: ALSConfig,
    seed: int,
    *,
    stages: tuple[str, ...] = STAGES,
    num_threads: int = 2,
) -> dict[str, ALSModel]:
    """One ALS per stage, each on that stage's fit rows only (val: train, test: train+val, …).

    With ``cfg.warm_start`` each stage starts from the previous one's factors; the previous
    stage saw a subset of this stage's rows, so no stage sees more than its own fit rows.
    """
    models: dict[str, ALSModel] = {}
    previous = None
    for stage in stages:
        fit = stage_data(splits, stage, validate=False).fit
        subset = previous is not None and set(FIT_SPLITS[previous]) <= set(FIT_SPLITS[stage])
        warm = models[previous] if cfg.warm_start and subset else None
        models[stage] = fit_als(fit, cfg, seed, num_threads=num_threads, warm_start=warm)
        previous = stage
    return models


def models_to_npz(models: dict[str, ALSModel]) -> dict[str, np.ndarray]:
    """All stage models in one npz: keys ``<stage>__<array>`` plus ``stages``."""
    arrays: dict[str, np.ndarray] = {"stages": np.asarray(list(models), dtype=str)}
    for stage, model in models.items():
        arrays.update(model.to_npz(prefix=f"{stage}__"))
    return arrays


def models_from_npz(arrays: dict[str, np.ndarray]) -> dict[str, ALSModel]:
    """Inverse of ``models_to_npz``."""
    return {str(s): ALSModel.from_npz(arrays, prefix=f"{s}__") for s in arrays["stages"].tolist()}


# --- als_candidates --------------------------------------------------------------------------


def stage_candidates(
    splits: pd.DataFrame,
    models: dict[str, ALSModel],
    n: int,
    *,
    stages: tuple[str, ...] = CANDIDATE_STAGES,
    max_val_users: int | None = 20_000,
    max_test_users: int | None = None,
    seed: int = 42,
    chunk_size: int = 20_000,
    num_threads: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Candidates of the val and test stages in one table (``stage, user, artist, als_score,
    als_rank``); serving makes its own in ``serve_topk``.

    Validation listeners above ``max_val_users`` are sampled (seeded): they only train the
    reranker and choose α, and 200 rows per listener for every listener would not fit in memory
    at Last.fm-360K scale. Test listeners above ``max_test_users`` likewise, with the sample
    ``evaluate`` draws (``protocol.sample_users``, same seed). Returns (table, info) with
    per-stage counts and, for val, recall@n (test recall is computed by ``evaluate``, the only
    reader of test labels).
    """
    all_users = pd.Index(factorize_sorted(splits["user"])[1])
    all_artists = pd.Index(
        np.unique(np.concatenate([models[st].artists.astype(str) for st in stages]))
        if stages
        else np.zeros(0, dtype=str)
    )
    cols: dict[str, list[np.ndarray]] = {c: [] for c in ("stage", "user", "artist", "s", "r")}
    info: dict[str, Any] = {}
    for stage in stages:
        sd = stage_data(splits, stage, validate=False)
        cap = {"val": max_val_users, "test": max_test_users}.get(stage)
        users = sample_users(sd.target_users, cap, seed)
        t0 = time.perf_counter()
        cand = als_candidates(
            models[stage], sd.seen, users, n, chunk_size=chunk_size, num_threads=num_threads
        )
        stage_info: dict[str, Any] = {
            **cand.attrs["info"],
            "target_users": len(sd.target_users),
            "rows": len(cand),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        if sd.labels is not None:
            labels = sd.labels[sd.labels["user"].isin(users)]
            stage_info["recall"] = candidate_recall(cand, labels)
        info[stage] = stage_info
        # Keep compact codes into the all-stage vocabularies; the stage frame is freed here.
        cols["stage"].append(np.full(len(cand), STAGES.index(stage), dtype=np.int8))
        cols["user"].append(codes_in(all_users, cand["user"]).astype(np.int32))
        cols["artist"].append(codes_in(all_artists, cand["artist"]).astype(np.int32))
        cols["s"].append(cand["als_score"].to_numpy())
        cols["r"].append(cand["als_rank"].to_numpy())
        del cand

    def cat(name: str, dtype: type) -> np.ndarray:
        arr = np.concatenate(cols.pop(name)) if cols[name] else np.zeros(0, dtype=dtype)
        return arr.astype(dtype, copy=False)

    out = pd.DataFrame(
        {
            "stage": pd.Categorical.from_codes(cat("stage", np.int8), categories=list(STAGES)),
            "user": pd.Categorical.from_codes(cat("user", np.int32), categories=all_users),
            "artist": pd.Categorical.from_codes(cat("artist", np.int32), categories=all_artists),
            "als_score": cat("s", np.float32),
            "als_rank": cat("r", np.int32),
        }
    )
    return out, info


def _stage(df: pd.DataFrame, stage: str) -> pd.DataFrame:
    return df[(df["stage"] == stage).to_numpy()].drop(columns="stage").reset_index(drop=True)


# --- user_profiles / item_features -----------------------------------------------------------


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
        fit = stage_data(splits, stage, validate=False).fit
        it = build_item_features(fit, artist_vectors, artist_catalog)
        return build_user_profiles(fit, it).assign(stage=stage), it.assign(stage=stage)

    profiles, items = zip(*ordered_map(build, stages, workers=workers), strict=True)
    up = pd.concat(profiles, ignore_index=True)
    it = pd.concat(items, ignore_index=True)
    return _stage_first(up), _stage_first(it)


def _stage_first(df: pd.DataFrame) -> pd.DataFrame:
    return df[["stage", *[c for c in df.columns if c != "stage"]]]


# --- rerank_dataset / reranker / blend -------------------------------------------------------


def rerank_dataset(
    candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    splits: pd.DataFrame,
    *,
    stages: tuple[str, ...] = ("val",),
) -> pd.DataFrame:
    """Feature rows per candidate with a ``stage`` column; the val stage carries ``label``.

    Only validation labels are read (``stage_data(splits, "val", validate=False)``); test and serve rows, if
    asked for, are unlabelled. By default only the val stage is built: test and serve rows are
    built chunk by chunk where they are scored (``serve_topk``, ``evaluate``).
    """
    parts = []
    for stage in stages:
        labels = stage_data(splits, "val", validate=False).labels if stage == "val" else None
        frame = rerank_frame(
            _stage(candidates, stage),
            _stage(user_profiles, stage),
            _stage(item_features, stage),
            labels,
        )
        parts.append(frame.assign(stage=stage))
    out = pd.concat(parts, ignore_index=True)
    return _stage_first(out)


def fit_reranker(
    dataset: pd.DataFrame, cfg: RerankerConfig, seed: int, *, num_threads: int = 2
) -> tuple[lgb.Booster, dict[str, Any]]:
    """LambdaRank on the validation stage rows (early stopping on held-out val listeners)."""
    return _train_ranker(_stage(dataset, "val"), cfg, seed, num_threads=num_threads)


def choose_blend(
    dataset: pd.DataFrame,
    booster: lgb.Booster,
    splits: pd.DataFrame,
    blend_cfg: BlendConfig,
    reranker_cfg: RerankerConfig,
    k: int,
    seed: int,
    *,
    num_threads: int = 2,
) -> dict[str, Any]:
    """α (config or ``auto``) and the gate, on the held-out validation listeners.

    Those are the listeners ``train_ranker`` held out (same split function and seed), so their
    ranker scores are out of sample. Metrics use all their validation labels (full catalogue,
    not the candidate list). Gate: the blend must beat ALS alone on NDCG@k with α > 0, else
    serving falls back to the ALS ranking.
    """
    val = _stage(dataset, "val")
    is_held, held = held_out(val, reranker_cfg.valid_fraction, seed)
    frame = val[is_held].reset_index(drop=True)
    frame["ranker_score"] = predict(booster, frame, num_threads=num_threads)
    sd = stage_data(splits, "val", validate=False)
    labels = sd.labels[sd.labels["user"].isin(held)]
    n_catalogue = int(sd.fit["artist"].nunique())
    grid = tuple(float(a) for a in blend_cfg.grid)
    auto = blend_cfg.alpha == "auto"
    if not auto and float(blend_cfg.alpha) not in grid:
        grid = (*grid, float(blend_cfg.alpha))
    if 0.0 not in grid:
        grid = (0.0, *grid)
    best, sweep = choose_alpha(frame, labels, grid, k, n_catalogue=n_catalogue, users=held)
    alpha = best if auto else float(blend_cfg.alpha)
    at = {row["alpha"]: row for row in sweep}
    als_ndcg, reranked_ndcg = at[0.0]["ndcg"], at[alpha]["ndcg"]
    passed = bool(alpha > 0 and reranked_ndcg > als_ndcg)
    return {
        "blend_alpha": alpha,
        "alpha_mode": "auto" if auto else "fixed",
        "use_ranker": passed,
        "sweep": sweep,
        "gate": {"reranked_ndcg": reranked_ndcg, "als_ndcg": als_ndcg, "passed": passed},
        "held_out_listeners": len(held),
        "k": k,
    }


# --- scoring a stage -------------------------------------------------------------------------


def _user_chunks(cands: pd.DataFrame, chunk_users: int) -> tuple[pd.DataFrame, list[slice]]:
    codes, _ = sorted_codes(cands["user"])
    if len(codes) and np.any(np.diff(codes) < 0):
        order = np.argsort(codes, kind="stable")
        cands, codes = cands.iloc[order].reset_index(drop=True), codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1] if len(codes) else np.zeros(0, int)
    bounds = [*starts[::chunk_users].tolist(), len(codes)]
    return cands, [slice(a, b) for a, b in itertools.pairwise(bounds)]


def score_candidates(
    candidates: pd.DataFrame,
    tables: FeatureTables,
    booster: lgb.Booster | None,
    alpha: float,
    k: int,
    *,
    use_ranker: bool = True,
    chunk_users: int = 20_000,
    num_threads: int = 2,
) -> pd.DataFrame:
    """Top-``k`` of one stage's candidates by the blend (``user, rank, artist, score,
    als_score, ranker_score``), built chunk by chunk of listeners to bound memory.

    Without the ranker (gate failed) ``ranker_score`` is NaN and ``score`` is the per-listener
    normalised ALS score.
    """
    cands, chunks = _user_chunks(candidates, chunk_users)
    parts = []
    for sl in chunks:
        chunk = cands.iloc[sl].reset_index(drop=True)
        if use_ranker and booster is not None:
            x = feature_matrix(chunk, tables)
            ranker = predict_matrix(booster, x, num_threads=num_threads)
        else:
            ranker = np.full(len(chunk), np.nan)
        scored = pd.DataFrame(
            {
                "user": chunk["user"],
                "artist": chunk["artist"],
                "als_score": chunk["als_score"].to_numpy(dtype=np.float64),
                "ranker_score": ranker,
            }
        )
        parts.append(blended_topk(scored, alpha if use_ranker else 0.0, k))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SERVE_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(SERVE_COLUMNS)]


def _served_ranking(
    cands: pd.DataFrame,
    tables: FeatureTables,
    booster: lgb.Booster | None,
    choice: dict[str, Any],
    k: int,
    chunk_users: int,
    num_threads: int,
) -> pd.DataFrame:
    """``score_candidates`` with the α and gate chosen on validation (``reranker_validation``):
    what is served and what the evaluation scores as "reranked" are one computation."""
    return score_candidates(
        cands,
        tables,
        booster,
        float(choice["blend_alpha"]),
        k,
        use_ranker=bool(choice["use_ranker"]),
        chunk_users=chunk_users,
        num_threads=num_threads,
    )


def serve_topk(
    splits: pd.DataFrame,
    model: ALSModel,
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
    """``reranked_topk``: the serve stage's blended top-``k`` for every listener.

    The serve model's top-``n`` candidates are generated and scored a chunk of listeners at a
    time and only the top-``k`` kept, so 200 candidates of every listener are never held at
    once. Returns (table, info with the candidate counts).
    """
    sd = stage_data(splits, "serve", validate=False)
    tables = prepare_tables(_stage(user_profiles, "serve"), _stage(item_features, "serve"))
    t0 = time.perf_counter()
    info = {"candidate_rows": 0}
    parts = []
    chunks = iter_als_candidates(
        model, sd.seen, sd.target_users, n, chunk_size=chunk_users, num_threads=num_threads
    )
    for cand in chunks:
        for key, value in cand.attrs["info"].items():
            info[key] = info.get(key, 0) + value
        info["candidate_rows"] += len(cand)
        parts.append(_served_ranking(cand, tables, booster, choice, k, chunk_users, num_threads))
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return pd.concat(parts, ignore_index=True), info


# --- evaluation ------------------------------------------------------------------------------


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
    validation: dict[str, Any] | None = None,
    candidate_info: dict[str, Any] | None = None,
    itemknn_kind: str = "bm25",
    max_users: int | None = None,
    chunk_users: int = 20_000,
    num_threads: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``evaluation_topk`` and ``evaluation_report`` on the test listeners (design §2-§3).

    The only reader of test labels. Every system is built from train+val only (popularity,
    item-kNN, the test-stage ALS candidates, the val-trained reranker with the val-chosen α) and
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
    cands = _stage(candidates, "test")
    stray = codes_in(pd.Index(users), cands["user"]) < 0
    if stray.any():
        raise ValueError(
            f"als_candidates holds test candidates for listeners outside the evaluated sample "
            f"(e.g. {cands['user'].iloc[int(np.flatnonzero(stray)[0])]!r}): it was built with "
            "another evaluation.max_users or seed; re-materialize it"
        )
    # Item-kNN (implicit, mostly one core) runs beside the other systems' scoring.
    pool = ThreadPoolExecutor(1, thread_name_prefix="musicrec-itemknn")
    knn = pool.submit(
        itemknn_topk, sd.fit, users, sd.seen, k, itemknn_kind, num_threads=num_threads
    )
    pool.shutdown(wait=False)
    tables = prepare_tables(_stage(user_profiles, "test"), _stage(item_features, "test"))
    als = cands[cands["als_rank"] <= k]
    als = topk(
        pd.DataFrame(
            {
                "user": als["user"].to_numpy(),
                "artist": als["artist"].to_numpy(),
                "score": als["als_score"].to_numpy(dtype=np.float64),
            }
        ),
        "score",
        k,
    )
    popularity = popularity_topk(sd.fit, users, sd.seen, k)
    reranked = _served_ranking(cands, tables, booster, choice, k, chunk_users, num_threads)
    tops = {"popularity": popularity, "als": als, "itemknn": knn.result(), "reranked": reranked}
    systems = {}
    for name in SYSTEMS:
        m = evaluate_topk(tops[name], labels, k, n_catalogue, users=users)
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

    recall = {s: v["recall"] for s, v in (candidate_info or {}).items() if "recall" in v}
    if "val" not in recall and (candidates["stage"] == "val").any():
        val_cands, val = _stage(candidates, "val"), stage_data(splits, "val", validate=False)
        sampled = set(val_cands["user"].astype(str).unique())
        recall["val"] = candidate_recall(val_cands, val.labels[val.labels["user"].isin(sampled)])
    recall["test"] = candidate_recall(cands, labels)
    n = int(cands.groupby("user", observed=True).size().max()) if len(cands) else 0
    report = {
        "k": int(k),
        "users_evaluated": len(users),
        "systems": systems,
        "chosen": {
            "blend_alpha": float(choice["blend_alpha"]),
            "alpha_mode": choice.get("alpha_mode"),
            "use_ranker": bool(choice["use_ranker"]),
            "itemknn": itemknn_kind,
            "candidates_n": n,
            "catalogue_size": n_catalogue,
            "bootstrap": int(bootstrap),
            "test_listeners": len(sd.target_users),
            "max_users": int(max_users or 0),
        },
        "validation": {
            "alpha_sweep": choice.get("sweep", []),
            "gate": choice.get("gate", {}),
            "held_out_listeners": choice.get("held_out_listeners"),
            **(validation or {}),
        },
        "candidate_recall": recall,
    }
    return eval_topk, report


def _sampled(report: dict[str, Any]) -> str:
    total = report.get("chosen", {}).get("test_listeners", report["users_evaluated"])
    if total <= report["users_evaluated"]:
        return ""
    return f" (a seeded sample of {total}: evaluation.max_users)"


def report_markdown(report: dict[str, Any]) -> str:
    """The evaluation report as a markdown table (one row per system) plus the chosen α."""
    k = report["k"]
    head = [f"P@{k}", f"R@{k}", f"MAP@{k}", f"NDCG@{k}", "NDCG 95% CI", "hit rate", "coverage"]
    lines = [
        f"Test listeners: {report['users_evaluated']}{_sampled(report)}, K = {k}",
        "",
        "| system | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
    ]
    for name, m in report["systems"].items():
        lo, hi = m["ndcg_ci95"]
        cells = [
            f"{m['precision']:.4f}",
            f"{m['recall']:.4f}",
            f"{m['map']:.4f}",
            f"{m['ndcg']:.4f}",
            f"[{lo:.4f}, {hi:.4f}]",
            f"{m['hit_rate']:.4f}",
            f"{m['coverage']:.4f}",
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    chosen = report.get("chosen", {})
    gate = report.get("validation", {}).get("gate", {})
    lines.append("")
    lines.append(
        f"Blend α = {chosen.get('blend_alpha')} ({chosen.get('alpha_mode')}); reranker used: "
        f"{chosen.get('use_ranker')} (validation NDCG@{k}: reranked "
        f"{gate.get('reranked_ndcg', float('nan')):.4f} vs ALS "
        f"{gate.get('als_ndcg', float('nan')):.4f})."
    )
    for stage, r in report.get("candidate_recall", {}).items():
        lines.append(
            f"Candidate recall ({stage}): {r['micro']:.4f} of label pairs, "
            f"{r['per_user_mean']:.4f} per listener."
        )
    return "\n".join(lines) + "\n"


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
    serve_model: ALSModel,
    booster: lgb.Booster | None,
    item_features: pd.DataFrame,
    alpha: float,
    n: int,
    *,
    n_candidates: int = 200,
    use_ranker: bool = True,
    num_threads: int = 1,
) -> pd.DataFrame:
    """Recommendations for someone not in the data, from a few artists (and plays if known).

    Same path as batch serving: fold-in via implicit's ``recalculate_user``, candidates through
    the one scoring function with the seeds removed, a profile from the seed artists, the
    reranker and the per-listener blend. ``item_features`` is the serve stage's table. Returns
    ``rank, artist, score, als_score, ranker_score``; unknown seeds are listed in
    ``attrs["unknown_seeds"]``.
    """
    plays = _seed_plays(seed_artists)
    known = serve_model.artist_index(plays.index.to_numpy()) >= 0
    vec = fold_in(serve_model, plays, num_threads=num_threads)
    cols = serve_model.artist_index(plays.index.to_numpy()[known])
    seen = sp.csr_matrix(
        (np.ones(len(cols), np.float32), (np.zeros(len(cols), int), cols)),
        shape=(1, len(serve_model.artists)),
    )
    ids, scores = topn_from_vectors(serve_model, vec[None, :], seen, n_candidates)
    ok = np.isfinite(scores[0])
    cands = pd.DataFrame(
        {
            "user": NEW_LISTENER,
            "artist": serve_model.artists[ids[0][ok]].astype(str),
            "als_score": scores[0][ok].astype(np.float32),
            "als_rank": np.arange(1, int(ok.sum()) + 1, dtype=np.int32),
        }
    )
    cands = cands[~cands["artist"].isin(plays.index)]
    # Item rows are independent (z-statistics are already applied), so only the seeds and the
    # candidates are needed: keeps a web request fast at 160k artists.
    needed = set(plays.index) | set(cands["artist"])
    items = item_features[item_features["artist"].isin(needed)].drop(
        columns="stage", errors="ignore"
    )
    items = items.reset_index(drop=True)
    if use_ranker and booster is not None and len(cands):
        history = pd.DataFrame(
            {"user": NEW_LISTENER, "artist": plays.index.to_numpy(), "plays": plays.to_numpy()}
        )
        profile = build_user_profiles(history, items)
        frame = rerank_frame(cands, profile, items)
        cands = cands.assign(ranker_score=predict(booster, frame, num_threads=num_threads))
    else:
        cands = cands.assign(ranker_score=np.nan)
        use_ranker = False
    out = blended_topk(cands, alpha if use_ranker else 0.0, n)
    out = out[["rank", "artist", "score", "als_score", "ranker_score"]]
    out.attrs["unknown_seeds"] = sorted(plays.index[~known].tolist())
    return out
