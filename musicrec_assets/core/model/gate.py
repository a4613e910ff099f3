"""What to serve: the reranker (objective, blend α) or the best single generator.

Everything here is decided on out-of-fold validation scores (``reranker.out_of_fold``: each
listener scored by a model that never saw them, in any fold). The generators' settings were
searched on fold 0 (the validation split), so there they look better than they are: the best of
40 trials is partly luck, and more so for the generator with the most trials. So all of this
uses the extra folds, where no setting was chosen (fold 0 only when there is a single fold, on
large data sets), and the validation listeners are split in two seeded halves: on one the
objective and the blend α are chosen, on the other the gate is judged, so its evidence is not
the data the choices were made on. The best single generator — the fallback — is chosen on all
the validation evidence (every fold, every listener). The reranker is served only when a paired
bootstrap over the gate's listeners (each listener's NDCG averaged over the folds) puts it above
that generator with the configured confidence, and only when at least ``min_listeners`` judge
it: a percentile bootstrap over a few dozen listeners is too narrow to trust, so small data sets
fall back instead of serving a loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..evaluation.metrics import evaluate_topk, paired_bootstrap, relevant_sets
from ..evaluation.protocol import split_listeners
from ..ids import codes_in
from .blend import blended_topk, choose_alpha
from .candidates import generator_topk
from .topn import score_column

SEP = "|"  # joins fold and listener into one key when several folds are scored together


def _fold(frame: pd.DataFrame, folds: list[int]) -> pd.DataFrame:
    """Rows of some folds; across several folds each (fold, listener) is a listener of its own
    (key ``fold|user``)."""
    part = frame[frame["fold"].isin(folds).to_numpy()]
    if len(folds) == 1:
        return part
    return part.assign(user=part["fold"].astype(str) + SEP + part["user"].astype(str))


def _fold_labels(labels: pd.DataFrame, folds: list[int]) -> pd.DataFrame:
    return _fold(labels, folds)[["user", "artist"]]


def _per_listener(m: dict[str, Any], folds: list[int]) -> pd.Series:
    """A metric's per-(fold, listener) values averaged per listener over the folds."""
    keys = pd.Series(m["per_user"]["user"]).astype(str)
    users = keys.str.split(SEP, n=1).str[-1] if len(folds) > 1 else keys
    return pd.Series(m["per_user"]["ndcg"]).groupby(users.to_numpy()).mean()


def generator_ndcg(
    frame: pd.DataFrame,
    labels: pd.DataFrame,
    generators: tuple[str, ...],
    folds: list[int],
    k: int,
    n_catalogue: int,
) -> dict[str, pd.Series]:
    """Each generator's own top-k on ``folds``: NDCG per listener (mean over the folds)."""
    part, relevant = _fold(frame, folds), relevant_sets(_fold_labels(labels, folds))
    return {
        g: _per_listener(evaluate_topk(generator_topk(part, g, k), relevant, k, n_catalogue), folds)
        for g in generators
    }


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
    min_listeners: int = 0,
) -> dict[str, Any]:
    """The ``reranker_validation`` decision.

    ``frame``: validation candidates of every fold (``fold, user, artist`` and each generator's
    ``<g>_score``/``<g>_rank``); ``labels``: ``fold, user, artist`` held out per fold; ``oof``:
    per objective, out-of-fold ranker scores aligned with ``frame``. Returns each generator's
    NDCG over every fold and the best of them, the objective and α chosen on one half of the
    listeners with their sweeps, and the gate (paired bootstrap of the reranked blend against
    the best generator over the other half).
    """
    folds = sorted(int(f) for f in frame["fold"].unique())
    gate_folds = [f for f in folds if f > 0] or [0]
    choosers, judges = split_listeners(frame["user"].astype(str).unique(), 0.5, seed)
    in_half = codes_in(pd.Index(judges), frame["user"]) >= 0
    on_folds = frame["fold"].isin(gate_folds).to_numpy()
    judged, chosen_on = in_half & on_folds, ~in_half & on_folds
    judge_labels = labels[labels["user"].isin(judges)]
    everywhere = generator_ndcg(frame, labels, generators, folds, k, n_catalogue)
    best = max(generators, key=lambda g: (everywhere[g].mean(), -generators.index(g)))
    gens = generator_ndcg(frame[judged], judge_labels, (best,), gate_folds, k, n_catalogue)
    base = score_column(best)
    grid = tuple(float(a) for a in grid)
    auto = alpha == "auto"
    if not auto and float(alpha) not in grid:
        grid = (*grid, float(alpha))
    if 0.0 not in grid:
        grid = (0.0, *grid)
    chooser = _fold(frame[chosen_on], gate_folds)
    chooser_labels = _fold_labels(labels[labels["user"].isin(choosers)], gate_folds)
    objectives: dict[str, dict[str, Any]] = {}
    for objective, scores in oof.items():
        df = chooser.assign(ranker_score=scores[chosen_on])
        chosen, sweep = choose_alpha(
            df, chooser_labels, grid, k, n_catalogue=n_catalogue, base_col=base
        )
        a = chosen if auto else float(alpha)
        at = {row["alpha"]: row for row in sweep}
        objectives[objective] = {"alpha": a, "ndcg": at[a]["ndcg"], "sweep": sweep}
    objective = max(oof, key=lambda o: (objectives[o]["ndcg"], -list(oof).index(o)))
    a = float(objectives[objective]["alpha"])

    part = _fold(frame[judged], gate_folds).assign(ranker_score=oof[objective][judged])
    relevant = relevant_sets(_fold_labels(judge_labels, gate_folds))
    top = blended_topk(part, a, k, base_col=base)
    reranked = _per_listener(evaluate_topk(top, relevant, k, n_catalogue), gate_folds)
    compared = gens[best].reindex(reranked.index)
    test = paired_bootstrap(
        reranked.to_numpy(), compared.to_numpy(), bootstrap, seed, confidence=confidence
    )
    enough = len(reranked) >= min_listeners
    passed = bool(a > 0 and test["lower"] > 0 and enough)
    return {
        "k": k,
        "folds": len(folds),
        "gate_folds": gate_folds,
        "choice_listeners": len(choosers),
        "objective": objective,
        "objectives": objectives,
        "blend_alpha": a,
        "alpha_mode": "auto" if auto else "fixed",
        "base": best,
        "generators_val_ndcg": {g: float(everywhere[g].mean()) for g in generators},
        "best_generator": best,
        "gate": {
            "reranked_ndcg": float(reranked.mean()),
            "best_ndcg": float(compared.mean()),
            "best_generator": best,
            "confidence": confidence,
            "bootstrap": bootstrap,
            "listeners": len(reranked),
            "min_listeners": min_listeners,
            **test,
            "passed": passed,
        },
        "use_ranker": passed,
        "served": "reranked" if passed else best,
    }
