"""The Model tab: what is served and why, read from the evaluation and validation reports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_assets.core.evaluation.report import gate_sentence

from .results import artifact_message, md_text
from .store import ArtifactError, ArtifactStore


def model_report(store: ArtifactStore) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """What is served and why (the gate), per-system test metrics beside each system's
    validation NDCG, and the artifacts' build times."""
    built = store.built_at()
    try:
        report = store.load("evaluation_report")
    except ArtifactError as exc:
        return artifact_message(exc, store.build_hint), pd.DataFrame(), built
    try:
        validation = store.load("reranker_validation")
    except ArtifactError:
        validation = report.get("validation", {})
    on_validation = dict(validation.get("generators_val_ndcg", {}))
    gate = validation.get("gate", {})
    if "reranked_ndcg" in gate:
        on_validation["reranked"] = gate["reranked_ndcg"]
    served = report.get("chosen", {}).get("served")
    if served in on_validation:
        on_validation["served"] = on_validation[served]
    rows = []
    for system, m in report.get("systems", {}).items():
        ci = m.get("ndcg_ci95") or [np.nan, np.nan]
        rows.append(
            {
                "system": system,
                "precision": m.get("precision"),
                "recall": m.get("recall"),
                "map": m.get("map"),
                "ndcg": m.get("ndcg"),
                "ndcg 95% CI": f"[{ci[0]:.4f}, {ci[1]:.4f}]",
                "hit_rate": m.get("hit_rate"),
                "coverage": m.get("coverage"),
                "validation ndcg": on_validation.get(system, np.nan),
            }
        )
    table = pd.DataFrame(rows).round(4) if rows else pd.DataFrame()
    k = report.get("k", "?")
    message = (
        f"Offline evaluation at K = {md_text(k)} on {md_text(report.get('users_evaluated', '?'))}"
        f" listeners (test split, models that never saw it). "
        f"{md_text(gate_sentence(report.get('chosen', {}), validation, k))}"
    )
    recall = {}  # per stage: the union's share of held-out pairs
    for stage, value in report.get("candidate_recall", {}).items():
        value = value.get("union", value) if isinstance(value, dict) else value
        value = value.get("micro") if isinstance(value, dict) else value
        if isinstance(value, int | float):
            recall[stage] = value
    if recall:
        bound = ", ".join(f"{md_text(k)} = {v:.3f}" for k, v in recall.items())
        message += f" Candidate recall (bounds the reranker): {bound}."
    return message, table, built
