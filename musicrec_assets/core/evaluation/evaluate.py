"""``evaluation_topk`` and ``evaluation_report``: every system scored once on the test split.

The systems are each candidate generator's own ranking (popularity and item-kNN are the usual
baselines), the reranked blend and, when the gate fell back, the served ranking, all from models
that never saw the test split and all scored by ``metrics.evaluate_topk`` on the same listeners
over the full catalogue. ``evaluate`` is the only reader of the test labels.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from ..ids import codes_in, factorize_sorted
from ..model.candidates import (
    candidate_generators,
    generator_topk,
    recall_by_generator,
    stage_part,
)
from ..model.features import stage_rows
from ..model.rerank_dataset import prepare_tables
from ..model.serve import rank_candidates
from ..parallel import THREADS
from .metrics import METRICS, bootstrap_ci, evaluate_topk
from .protocol import sample_users, stage_data

EVAL_COLUMNS = ("user", "system", "rank", "artist", "score")


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
    num_threads: int = THREADS,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``evaluation_topk`` and ``evaluation_report`` on the test listeners (docs/architecture.md).

    The only reader of test labels. Every system is built from train+val only: each generator
    (its own top-K from the test-stage candidates, so popularity and item-kNN are the usual
    references), the reranked blend (the val-trained reranker with the val-chosen objective and
    α, whatever the gate decided), and, when the gate fell back, the served ranking. All are
    scored by ``evaluate_topk`` on the same listeners over the full catalogue. Above
    ``max_users`` test listeners a seeded sample is evaluated: the one ``build_candidates``
    drew (``protocol.sample_users`` with the same seed).
    """
    sd = stage_data(splits, "test", with_labels=True, validate=False)
    users = sample_users(sd.target_users, max_users, seed)
    labels = sd.labels
    if len(users) < len(sd.target_users):
        labels = labels[codes_in(pd.Index(users), labels["user"]) >= 0].reset_index(drop=True)
    n_catalogue = int(sd.fit["artist"].nunique())
    cands = stage_part(candidates, "test")
    stray = codes_in(pd.Index(users), cands["user"]) < 0
    if stray.any():
        raise ValueError(
            f"candidates holds test candidates for listeners outside the evaluated sample "
            f"(e.g. {cands['user'].iloc[int(np.flatnonzero(stray)[0])]!r}): it was built with "
            "another evaluation.max_users or seed; re-materialize it"
        )
    names = candidate_generators(candidates)
    tables = prepare_tables(stage_rows(user_profiles, "test"), stage_rows(item_features, "test"))
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

    val_cands, val = stage_part(candidates, "val"), stage_data(splits, "val", validate=False)
    sampled = pd.Index(factorize_sorted(val_cands["user"])[1]) if len(val_cands) else pd.Index([])
    val_labels = val.labels[codes_in(sampled, val.labels["user"]) >= 0]
    recall = {
        "val": recall_by_generator(val_cands, val_labels, names),
        "test": recall_by_generator(cands, labels, names),
    }
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
