"""Model group: settings chosen on validation, the candidate generators, their candidates,
content features, the LightGBM reranker with its gate, and the served top-K. Each asset calls the
core function of the same stage (``musicrec_assets.core.model``'s docstring lists them).

Assets hold the model stages (docs/architecture.md): ``val`` (fit on train), ``test`` (train+val) and
``serve`` (everything); ``candidates`` holds the validation folds and test, because
``reranked_topk`` makes and scores the serve candidates chunk by chunk. Only the evaluation
reads the test labels (``defs/evaluation.py``).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd

from musicrec_assets.core.config import Config
from musicrec_assets.core.evaluation.report import gate_sentence
from musicrec_assets.core.model import serve
from musicrec_assets.core.model.candidates import build_candidates
from musicrec_assets.core.model.features import build_content_features
from musicrec_assets.core.model.generators.stages import StageModels, fit_generator_models
from musicrec_assets.core.model.rerank_dataset import build_rerank_dataset
from musicrec_assets.core.model.reranker import fit_reranker
from musicrec_assets.core.model.selection import select_models, trials_frame
from musicrec_assets.defs.meta import flat, preview
from musicrec_assets.defs.resources import MusicrecConfig, input_path, read_only

GROUP = "model"


def _table_md(d: dict[str, Any], key: str, value: str) -> str:
    rows = pd.DataFrame({key: list(d), value: list(d.values())})
    return rows.to_markdown(index=False)


@dg.asset(group_name=GROUP, kinds={"optuna", "json"})
def model_selection(
    musicrec: MusicrecConfig, interaction_splits: pd.DataFrame
) -> dg.Output[dict[str, Any]]:
    """Each candidate generator's hyper-parameters searched on the validation split (models fit
    on train only; Optuna TPE, seeded, within [tuning]'s trial and time budget); explicit config
    values are fixed. Every trial is in the artifact and in the metadata."""
    cfg = musicrec.load()
    selection, seconds = select_models(interaction_splits, cfg, num_threads=cfg.num_threads)
    meta: dict[str, Any] = {
        "seconds": seconds["total"],
        "budget_seconds": selection["budget_seconds"],
        "validation_listeners": selection["validation_listeners"],
        "trials": dg.MetadataValue.md(trials_frame(selection).to_markdown(index=False) or "none"),
    }
    for name, g in selection["generators"].items():
        meta[f"{name}/val_ndcg"] = float(g["val_ndcg"])
        meta[f"{name}/configured_val_ndcg"] = float(g["configured_val_ndcg"])
        meta[f"{name}/trials"] = int(g["trials"])
        meta[f"{name}/stopped"] = g["stopped"]
        meta[f"{name}/seconds"] = seconds[name]
        meta[f"{name}/chosen"] = dg.MetadataValue.json(g["params"])
    return dg.Output(selection, metadata=meta)


def _scale_out(context: dg.AssetExecutionContext, cfg: Config, asset: str):
    """The Spark engine's scale-out of ``asset``, or None to run in process."""
    if cfg.engine.kind != "spark":
        return None
    from musicrec_assets.spark.engine import SparkScaleOut

    return SparkScaleOut(context, cfg, asset)


@dg.asset(group_name=GROUP, kinds={"implicit", "numpy"})
def generator_models(
    context,
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    model_selection: dict[str, Any],
) -> dg.Output[dict[str, StageModels]]:
    """Every candidate generator (ALS, EASE, RP3beta, item-kNN, popularity) per stage (val:
    train, test: train+val, serve: all) with the settings chosen on validation."""
    cfg = musicrec.load()
    stages = fit_generator_models(
        interaction_splits,
        cfg,
        model_selection,
        num_threads=cfg.num_threads,
        scale_out=_scale_out(context, cfg, "generator_models"),
    )
    meta: dict[str, Any] = {"generators": ", ".join(cfg.candidates.generators)}
    for stage, models in stages.items():
        for name, model in models.models.items():
            meta[f"{stage}/{name}/artists"] = len(model.artists)
            info = getattr(model, "info", {})
            meta.update(flat(f"{stage}/{name}/", {k: v for k, v in info.items() if np.isscalar(v)}))
    return dg.Output(stages, metadata=meta)


@dg.asset(group_name=GROUP, kinds={"implicit", "pandas"})
def candidates(
    context,
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    generator_models: dict[str, StageModels],
    model_selection: dict[str, Any],
) -> dg.Output[pd.DataFrame]:
    """The union of every generator's top-N unseen artists per listener, for each validation
    fold (the reranker's training rows; folds after the first refit the generators) and the
    test listeners, with each generator's score and rank. Validation recall@N of the union and
    of each generator in the metadata (test recall is in evaluation_report)."""
    cfg = musicrec.load()
    df, info = build_candidates(
        interaction_splits,
        generator_models,
        cfg,
        model_selection,
        num_threads=cfg.num_threads,
        scale_out=_scale_out(context, cfg, "candidates"),
    )
    meta: dict[str, Any] = {"n_per_generator": cfg.candidates.n, "folds": info["folds"]}
    meta.update(preview(df))
    for part, s in info.items():
        if not isinstance(s, dict):
            continue
        recall = s.get("recall", {})
        meta.update(flat(f"{part}/", {k: v for k, v in s.items() if np.isscalar(v)}))
        for g, r in recall.items():
            meta[f"{part}/recall_at_n/{g}"] = float(r["micro"])
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
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    artist_vectors: pd.DataFrame,
    artist_catalog: pd.DataFrame,
):
    profiles, items = build_content_features(
        interaction_splits, artist_vectors, artist_catalog, workers=musicrec.load().num_threads
    )
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
    musicrec: MusicrecConfig,
    candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    interaction_splits: pd.DataFrame,
    artist_vectors: pd.DataFrame,
    artist_catalog: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """Validation-fold candidates with generator, content and popularity features and the
    fold's held-out labels (never the test split)."""
    cfg = musicrec.load()
    df = build_rerank_dataset(
        candidates,
        user_profiles,
        item_features,
        interaction_splits,
        artist_vectors,
        artist_catalog,
        cfg,
    )
    return dg.Output(
        df,
        metadata={
            **preview(df),
            "folds": int(df["fold"].nunique()),
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
            description="LightGBM reranker (its own text format) with the objective chosen on "
            "validation, trained on every validation fold's candidates.",
        ),
        "reranker_validation": dg.AssetOut(
            kinds={"json"},
            description="Out-of-fold validation of the reranker: objectives and α sweeps, each "
            "generator's validation NDCG, and the gate (paired bootstrap of the reranked blend "
            "against the best single generator) deciding what is served.",
        ),
    },
)
def reranker(
    musicrec: MusicrecConfig, rerank_dataset: pd.DataFrame, interaction_splits: pd.DataFrame
):
    cfg = musicrec.load()
    booster, validation = fit_reranker(
        rerank_dataset, interaction_splits, cfg, num_threads=cfg.num_threads
    )
    training = validation["training"]
    gain = dict(sorted(training["importance_gain"].items(), key=lambda kv: -kv[1]))
    yield dg.Output(
        booster,
        output_name="reranker",
        metadata={
            "objective": training["objective"],
            "rounds": training["best_iteration"],
            "feature_importance_gain": dg.MetadataValue.md(_table_md(gain, "feature", "gain")),
            **flat("", {k: v for k, v in training.items() if isinstance(v, int)}),
        },
    )
    gate = validation["gate"]
    sweeps = pd.concat(
        [pd.DataFrame(v["sweep"]).assign(objective=o) for o, v in validation["objectives"].items()]
    )
    yield dg.Output(
        validation,
        output_name="reranker_validation",
        metadata={
            "served": validation["served"],
            "decision": gate_sentence(validation, validation, validation["k"]),
            "objective": validation["objective"],
            "blend_alpha": float(validation["blend_alpha"]),
            "base": validation["base"],
            "val_ndcg_reranked": float(gate["reranked_ndcg"]),
            "val_ndcg_best_generator": float(gate["best_ndcg"]),
            "gate_lower_bound": float(gate["lower"]),
            "gate_passed": bool(gate["passed"]),
            "folds": validation["folds"],
            "generators_val_ndcg": dg.MetadataValue.json(validation["generators_val_ndcg"]),
            "alpha_sweep": dg.MetadataValue.md(sweeps.to_markdown(index=False)),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"implicit", "lightgbm", "pandas"},
    op_tags=read_only({"interaction_splits": ("user", "artist", "plays", "split")}),
)
def reranked_topk(
    context,
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    generator_models: dict[str, StageModels],
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    reranker: lgb.Booster,
    reranker_validation: dict[str, Any],
) -> dg.Output[pd.DataFrame]:
    """Served top-K per listener: the serve models' union candidates ranked by the reranker's
    blend with the best generator (α chosen on validation) when the gate passed, else the best
    single generator's own ranking. Candidates are made and scored a chunk of listeners at a
    time."""
    cfg = musicrec.load()
    if cfg.engine.kind == "spark":
        from musicrec_assets.spark import engine

        upstream = (
            "interaction_splits",
            "generator_models",
            "user_profiles",
            "item_features",
            "reranker",
            "reranker_validation",
        )
        paths = {name: input_path(context, cfg, name) for name in upstream}
        df, info = engine.reranked_topk(context, cfg, paths)
    else:
        df, info = serve.reranked_topk(
            interaction_splits,
            generator_models["serve"],
            user_profiles,
            item_features,
            reranker,
            reranker_validation,
            cfg.evaluation.topk,
            cfg.candidates.n,
            num_threads=cfg.num_threads,
        )
    used = bool(reranker_validation["use_ranker"])
    served = reranker_validation["served"]
    return dg.Output(
        df,
        metadata={
            **preview(df),
            "served": f"reranked blend with {reranker_validation['base']}"
            if used
            else f"{served} ranking (the reranker did not pass the gate)",
            "blend_alpha": float(reranker_validation["blend_alpha"]) if used else 0.0,
            "listeners": int(df["user"].nunique()),
            "distinct_artists": int(df["artist"].nunique()),
            **flat("candidates_", info),
        },
    )
