"""Model group: ALS candidates, content features, the LambdaRank reranker and the served top-K.

Assets hold the model stages (design §3): ``val`` (fit on train), ``test`` (train+val) and
``serve`` (everything); ``als_candidates`` only val and test, because ``reranked_topk`` makes and
scores the serve candidates chunk by chunk. Only the evaluation reads the test labels.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from musicrec_assets.core import recommend
from musicrec_assets.core.rerank import booster_from_text, booster_to_text
from musicrec_assets.defs.meta import flat, preview
from musicrec_assets.defs.resources import MusicrecConfig, read_only

GROUP = "model"
THREADS = 2  # the machine's cores; ALS keeps BLAS single-threaded itself


def _table_md(d: dict[str, Any], key: str, value: str) -> str:
    rows = pd.DataFrame({key: list(d), value: list(d.values())})
    return rows.to_markdown(index=False)


@dg.asset(group_name=GROUP, kinds={"implicit", "numpy"})
def als_model(
    musicrec: MusicrecConfig, interaction_splits: pd.DataFrame
) -> dg.Output[dict[str, np.ndarray]]:
    """Implicit ALS factors per stage (val: train, test: train+val, serve: all) with id maps."""
    cfg = musicrec.load()
    models = recommend.fit_stage_models(interaction_splits, cfg.als, cfg.seed, num_threads=THREADS)
    meta: dict[str, Any] = {"factors": cfg.als.factors, "weighting": cfg.als.weighting}
    for stage, model in models.items():
        meta[f"{stage}_listeners"] = len(model.users)
        meta[f"{stage}_artists"] = len(model.artists)
        meta.update(flat(f"{stage}_", {k: v for k, v in model.info.items() if np.isscalar(v)}))
    return dg.Output(recommend.models_to_npz(models), metadata=meta)


@dg.asset(group_name=GROUP, kinds={"implicit", "pandas"})
def als_candidates(
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    als_model: dict[str, np.ndarray],
) -> dg.Output[pd.DataFrame]:
    """Top-N unseen artists per validation and test listener through implicit's batched
    ``recommend`` (the reranker's training rows and the evaluated ranking)."""
    cfg = musicrec.load()
    models = recommend.models_from_npz(als_model)
    df, info = recommend.stage_candidates(
        interaction_splits,
        models,
        cfg.candidates.n,
        max_val_users=cfg.candidates.max_val_users,
        max_test_users=cfg.evaluation.max_users,
        seed=cfg.seed,
        num_threads=THREADS,
    )
    meta: dict[str, Any] = {"n": cfg.candidates.n, **preview(df)}
    for stage, s in info.items():
        recall = s.pop("recall", None)
        meta.update(flat(f"{stage}_", {k: v for k, v in s.items() if np.isscalar(v)}))
        if recall:
            meta[f"{stage}_recall_at_n"] = float(recall["micro"])
            meta[f"{stage}_recall_at_n_per_listener"] = float(recall["per_user_mean"])
    return dg.Output(df, metadata=meta)


@dg.multi_asset(
    group_name=GROUP,
    outs={
        "user_profiles": dg.AssetOut(
            kinds={"pandas"},
            description="Per listener and stage: play-weighted audio profile, genre shares, "
            "entropy and activity, from that stage's fit interactions only.",
        ),
        "item_features": dg.AssetOut(
            kinds={"pandas"},
            description="Per artist key and stage: standardised audio profile, genres, explicit "
            "share, popularity from fit plays, and a flag for artists without Spotify features.",
        ),
    },
)
def content_features(
    interaction_splits: pd.DataFrame, artist_vectors: pd.DataFrame, artist_catalog: pd.DataFrame
):
    profiles, items = recommend.stage_features(interaction_splits, artist_vectors, artist_catalog)
    serve_items = items[items["stage"] == "serve"]
    yield dg.Output(profiles, output_name="user_profiles", metadata=preview(profiles))
    yield dg.Output(
        items,
        output_name="item_features",
        metadata={
            **preview(items),
            "serve_artists": len(serve_items),
            "serve_artists_with_spotify": int(serve_items["has_spotify"].sum()),
        },
    )


@dg.asset(group_name=GROUP, kinds={"pandas"})
def rerank_dataset(
    als_candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    interaction_splits: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """Validation-stage candidates with pairwise content features and validation labels."""
    df = recommend.rerank_dataset(als_candidates, user_profiles, item_features, interaction_splits)
    return dg.Output(
        df,
        metadata={
            **preview(df),
            "listeners": int(df["user"].nunique()),
            "positives": int(df["label"].sum()),
            "positive_rate": float(df["label"].mean()) if len(df) else 0.0,
        },
    )


@dg.multi_asset(
    group_name=GROUP,
    outs={
        "reranker": dg.AssetOut(
            kinds={"lightgbm"},
            description="LightGBM LambdaRank model (its own text format), trained on validation "
            "candidates, early-stopped on held-out validation listeners.",
        ),
        "reranker_validation": dg.AssetOut(
            kinds={"json"},
            description="The reranker's training facts, the α sweep on held-out validation "
            "listeners, the chosen α and the gate (reranked vs ALS-only NDCG@10).",
        ),
    },
)
def reranker_assets(
    musicrec: MusicrecConfig, rerank_dataset: pd.DataFrame, interaction_splits: pd.DataFrame
):
    cfg = musicrec.load()
    booster, info = recommend.fit_reranker(
        rerank_dataset, cfg.reranker, cfg.seed, num_threads=THREADS
    )
    choice = recommend.choose_blend(
        rerank_dataset,
        booster,
        interaction_splits,
        cfg.blend,
        cfg.reranker,
        cfg.evaluation.k,
        cfg.seed,
        num_threads=THREADS,
    )
    gain = dict(sorted(info["importance_gain"].items(), key=lambda kv: -kv[1]))
    yield dg.Output(
        booster_to_text(booster),
        output_name="reranker",
        metadata={
            "best_iteration": info["best_iteration"],
            "valid_ndcg_candidates": info["valid_ndcg_candidates"] or 0.0,
            "feature_importance_gain": dg.MetadataValue.md(_table_md(gain, "feature", "gain")),
            **flat("", {k: v for k, v in info.items() if isinstance(v, int)}),
        },
    )
    gate = choice["gate"]
    yield dg.Output(
        {"training": info, **choice},
        output_name="reranker_validation",
        metadata={
            "blend_alpha": float(choice["blend_alpha"]),
            "alpha_mode": choice["alpha_mode"],
            "val_ndcg_reranked": float(gate["reranked_ndcg"]),
            "val_ndcg_als": float(gate["als_ndcg"]),
            "gate_passed": bool(gate["passed"]),
            "alpha_sweep": dg.MetadataValue.md(
                pd.DataFrame(choice["sweep"]).to_markdown(index=False)
            ),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"implicit", "lightgbm", "pandas"},
    op_tags=read_only({"interaction_splits": ("user", "artist", "plays", "split")}),
)
def reranked_topk(
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    als_model: dict[str, np.ndarray],
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    reranker: str,
    reranker_validation: dict[str, Any],
) -> dg.Output[pd.DataFrame]:
    """Served top-K per listener: the serve model's top-N candidates, per-listener normalised ALS
    and reranker scores blended with the α chosen on validation; the ALS ranking when the
    reranker did not beat ALS on validation. Candidates are made and scored a chunk of listeners
    at a time."""
    cfg = musicrec.load()
    df, info = recommend.serve_topk(
        interaction_splits,
        recommend.models_from_npz(als_model)["serve"],
        user_profiles,
        item_features,
        booster_from_text(reranker),
        reranker_validation,
        cfg.evaluation.topk,
        cfg.candidates.n,
        num_threads=THREADS,
    )
    used = bool(reranker_validation["use_ranker"])
    return dg.Output(
        df,
        metadata={
            **preview(df),
            "served": "reranked blend" if used else "ALS ranking (reranker gate failed)",
            "blend_alpha": float(reranker_validation["blend_alpha"]) if used else 0.0,
            "listeners": int(df["user"].nunique()),
            "distinct_artists": int(df["artist"].nunique()),
            **flat("candidates_", info),
        },
    )


@dg.multi_asset(
    group_name="evaluation",
    outs={
        "evaluation_topk": dg.AssetOut(
            kinds={"pandas"},
            description="Top-K of every system (popularity, ALS, ItemKNN, reranked) for every test "
            "listener, from models that never saw the test split.",
        ),
        "evaluation_report": dg.AssetOut(
            kinds={"json"},
            description="P/R/MAP/NDCG@K, hit rate, coverage and bootstrap 95% intervals per system "
            "on the same test listeners over the full catalogue (design §2-§3).",
        ),
    },
)
def evaluation(
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    als_candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    reranker: str,
    reranker_validation: dict[str, Any],
):
    cfg = musicrec.load()
    topk, report = recommend.evaluate(
        interaction_splits,
        als_candidates,
        user_profiles,
        item_features,
        booster_from_text(reranker),
        reranker_validation,
        k=cfg.evaluation.k,
        bootstrap=cfg.evaluation.bootstrap,
        seed=cfg.seed,
        validation={"reranker": reranker_validation["training"]},
        itemknn_kind=cfg.evaluation.itemknn,
        max_users=cfg.evaluation.max_users,
        num_threads=THREADS,
    )
    yield dg.Output(topk, output_name="evaluation_topk", metadata=preview(topk))
    ndcg = {f"test_ndcg_{s}": float(m["ndcg"]) for s, m in report["systems"].items()}
    yield dg.Output(
        report,
        output_name="evaluation_report",
        metadata={
            "report": dg.MetadataValue.md(recommend.report_markdown(report)),
            "users_evaluated": report["users_evaluated"],
            **ndcg,
        },
    )
