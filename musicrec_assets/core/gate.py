"""What to serve: the reranker (objective, blend α) or the best single generator.

Everything here is decided on out-of-fold validation scores (``rerank.out_of_fold``: each
listener scored by a model that never saw them). The objective and α are chosen on the extra
validation folds when there are any and the gate is then judged on fold 0, the validation split
itself, so the gate's evidence is not the data the choices were made on (with one fold both use
fold 0). The gate serves the reranker only when a paired bootstrap over the validation listeners
puts its NDCG above the best single generator's with the configured confidence; otherwise that
generator is served. On small data sets the interval is wide, so they fall back instead of
serving a loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .blend import blended_topk, choose_alpha
from .candidates import generator_topk, score_column
from .metrics import evaluate_topk, paired_bootstrap, relevant_sets


def _fold(frame: pd.DataFrame, folds: list[int]) -> pd.DataFrame:
    """Rows of some folds; across several folds each (fold, listener) is a listener of its own
    (key ``fold|user``)."""
    part = frame[frame["fold"].isin(folds).to_numpy()]
    if len(folds) == 1:
        return part
    return part.assign(user=part["fold"].astype(str) + "|" + part["user"].astype(str))


def _fold_labels(labels: pd.DataFrame, folds: list[int]) -> pd.DataFrame:
    return _fold(labels, folds)[["user", "artist"]]


def generator_ndcg(
    frame: pd.DataFrame,
    labels: pd.DataFrame,
    generators: tuple[str, ...],
    k: int,
    n_catalogue: int,
) -> dict[str, dict[str, Any]]:
    """Each generator's own top-k on fold 0: NDCG mean and per-listener values."""
    part, lab = _fold(frame, [0]), _fold_labels(labels, [0])
    relevant = relevant_sets(lab)
    out = {}
    for g in generators:
        m = evaluate_topk(generator_topk(part, g, k), relevant, k, n_catalogue)
        out[g] = {"ndcg": float(m["ndcg"]), "per_user": m["per_user"]["ndcg"]}
    return out


def choose_ranking(
    frame: pd.DataFrame,
    labels: pd.DataFrame,
    oof: dict[str, np.ndarray],
    generators: tuple[str, ...],
    *,
    k: int,
    n_catalogue: int,
    grid: tuple[float, ...],
    alpha: float | str,
    confidence: float,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """The ``reranker_validation`` decision.

    ``frame``: validation candidates of every fold (``fold, user, artist`` and each generator's
    ``<g>_score``/``<g>_rank``); ``labels``: ``fold, user, artist`` held out per fold; ``oof``:
    per objective, out-of-fold ranker scores aligned with ``frame``. Returns the chosen
    objective and α with their sweeps, each generator's fold-0 NDCG, and the gate (paired
    bootstrap of the reranked blend against the best generator on fold 0).
    """
    folds = sorted(int(f) for f in frame["fold"].unique())
    choose_on = [f for f in folds if f > 0] or [0]
    gens = generator_ndcg(frame, labels, generators, k, n_catalogue)
    best = max(generators, key=lambda g: (gens[g]["ndcg"], -generators.index(g)))
    base = score_column(best)
    grid = tuple(float(a) for a in grid)
    auto = alpha == "auto"
    if not auto and float(alpha) not in grid:
        grid = (*grid, float(alpha))
    if 0.0 not in grid:
        grid = (0.0, *grid)
    pick = frame["fold"].isin(choose_on).to_numpy()
    chooser = _fold(frame, choose_on)
    chooser_labels = _fold_labels(labels, choose_on)
    objectives: dict[str, dict[str, Any]] = {}
    for objective, scores in oof.items():
        df = chooser.assign(ranker_score=scores[pick])
        chosen, sweep = choose_alpha(
            df, chooser_labels, grid, k, n_catalogue=n_catalogue, base_col=base
        )
        a = chosen if auto else float(alpha)
        at = {row["alpha"]: row for row in sweep}
        objectives[objective] = {"alpha": a, "ndcg": at[a]["ndcg"], "sweep": sweep}
    objective = max(oof, key=lambda o: (objectives[o]["ndcg"], -list(oof).index(o)))
    a = float(objectives[objective]["alpha"])

    zero = frame["fold"].to_numpy() == 0
    part = _fold(frame, [0]).assign(ranker_score=oof[objective][zero])
    relevant = relevant_sets(_fold_labels(labels, [0]))
    reranked = evaluate_topk(blended_topk(part, a, k, base_col=base), relevant, k, n_catalogue)
    test = paired_bootstrap(
        reranked["per_user"]["ndcg"],
        gens[best]["per_user"],
        bootstrap,
        seed,
        confidence=confidence,
    )
    passed = bool(a > 0 and test["lower"] > 0)
    return {
        "k": k,
        "folds": len(folds),
        "chosen_on_folds": choose_on,
        "objective": objective,
        "objectives": objectives,
        "blend_alpha": a,
        "alpha_mode": "auto" if auto else "fixed",
        "base": best,
        "generators_val_ndcg": {g: gens[g]["ndcg"] for g in generators},
        "best_generator": best,
        "gate": {
            "reranked_ndcg": float(reranked["ndcg"]),
            "best_ndcg": gens[best]["ndcg"],
            "best_generator": best,
            "confidence": confidence,
            "bootstrap": bootstrap,
            "listeners": int(reranked["users_evaluated"]),
            **test,
            "passed": passed,
        },
        "use_ranker": passed,
        "served": "reranked" if passed else best,
    }
