"""Evaluation group: every system (each candidate generator, the reranked blend, the served
ranking) scored once on the test split, from models that never saw it. The only assets that read
the test labels (``core/evaluation/evaluate.py``)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import lightgbm as lgb
import pandas as pd

from musicrec_assets.core.evaluation.evaluate import evaluate
from musicrec_assets.core.evaluation.report import report_markdown
from musicrec_assets.defs.meta import preview
from musicrec_assets.defs.resources import MusicrecConfig


@dg.multi_asset(
    group_name="evaluation",
    outs={
        "evaluation_topk": dg.AssetOut(
            kinds={"pandas"},
            description="Top-K of every system (each candidate generator, the reranked blend and, "
            "when the gate fell back, the served ranking) for every test listener, from models "
            "that never saw the test split.",
        ),
        "evaluation_report": dg.AssetOut(
            kinds={"json"},
            description="P/R/MAP/NDCG@K, hit rate, coverage and bootstrap 95% intervals per system "
            "on the same test listeners over the full catalogue, the gate's decision and the "
            "candidate recall of every generator on validation and test.",
        ),
    },
)
def evaluation(
    musicrec: MusicrecConfig,
    interaction_splits: pd.DataFrame,
    candidates: pd.DataFrame,
    user_profiles: pd.DataFrame,
    item_features: pd.DataFrame,
    reranker: lgb.Booster,
    reranker_validation: dict[str, Any],
):
    cfg = musicrec.load()
    topk, report = evaluate(
        interaction_splits,
        candidates,
        user_profiles,
        item_features,
        reranker,
        reranker_validation,
        k=cfg.evaluation.k,
        bootstrap=cfg.evaluation.bootstrap,
        seed=cfg.seed,
        max_users=cfg.evaluation.max_users,
        num_threads=cfg.num_threads,
    )
    yield dg.Output(topk, output_name="evaluation_topk", metadata=preview(topk))
    ndcg = {f"test_ndcg_{s}": float(m["ndcg"]) for s, m in report["systems"].items()}
    recall = {
        f"test_recall_at_n/{g}": float(r["micro"])
        for g, r in report["candidate_recall"]["test"].items()
    }
    yield dg.Output(
        report,
        output_name="evaluation_report",
        metadata={
            "report": dg.MetadataValue.md(report_markdown(report)),
            "users_evaluated": report["users_evaluated"],
            "served": report["chosen"]["served"],
            **ndcg,
            **recall,
        },
    )
