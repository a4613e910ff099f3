"""``model_selection``: each generator's hyper-parameters chosen on the validation split.

Every trial fits the generator on the train split only and scores NDCG@K of its own top-K over
the validation listeners (full catalogue, train artists removed), exactly as the evaluation
scores a system; test labels are never read. The search is Optuna's TPE sampler, seeded, one
study per generator, run one trial at a time so that a seed gives the same trials and the same
choice. The budget is a number of trials per generator plus a wall-clock cap for the whole
search; when the cap cuts a study short its record says so (``stopped = "time"``), and only then
can a result depend on the machine's speed. The config's own values are always the first trial,
so the search never chooses something worse on validation than the configured settings.
Parameters set explicitly in the config are fixed and not searched.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd

from .candidates import collect_candidates, generator_topk, iter_candidates
from .config import ITEMKNN_KINDS, TUNED, WEIGHTINGS, TuningConfig
from .generators import Settings, StageModels, fit_generator, stage_matrix
from .metrics import evaluate_topk, relevant_sets
from .protocol import StageData, sample_users

Suggest = Callable[[str, Callable[[], Any]], Any]


def _als(pick: Suggest, trial: optuna.Trial) -> dict[str, Any]:
    weighting = pick(
        "weighting", lambda: trial.suggest_categorical("weighting", ["none", "log1p", "bm25"])
    )
    params = {
        "weighting": weighting,
        "factors": pick("factors", lambda: trial.suggest_categorical("factors", [32, 64, 128])),
        "regularization": pick(
            "regularization", lambda: trial.suggest_float("regularization", 0.01, 1000, log=True)
        ),
        "alpha": pick("alpha", lambda: trial.suggest_float("alpha", 0.1, 100, log=True)),
        "iterations": pick("iterations", lambda: trial.suggest_int("iterations", 5, 40)),
    }
    if weighting == "bm25":
        params["bm25_k1"] = pick(
            "bm25_k1", lambda: trial.suggest_float("bm25_k1", 0.5, 200, log=True)
        )
        params["bm25_b"] = pick("bm25_b", lambda: trial.suggest_float("bm25_b", 0.0, 1.0))
    return params


def _ease(pick: Suggest, trial: optuna.Trial) -> dict[str, Any]:
    return {
        "regularization": pick(
            "regularization", lambda: trial.suggest_float("regularization", 1.0, 1e5, log=True)
        ),
        "weighting": pick(
            "weighting", lambda: trial.suggest_categorical("weighting", ["binary", "log1p"])
        ),
    }


def _rp3beta(pick: Suggest, trial: optuna.Trial) -> dict[str, Any]:
    return {
        "alpha": pick("alpha", lambda: trial.suggest_float("alpha", 0.1, 2.0)),
        "beta": pick("beta", lambda: trial.suggest_float("beta", 0.0, 1.0)),
        "neighbours": pick(
            "neighbours", lambda: trial.suggest_int("neighbours", 10, 500, log=True)
        ),
        "weighting": pick(
            "weighting", lambda: trial.suggest_categorical("weighting", ["binary", "log1p"])
        ),
    }


def _itemknn(pick: Suggest, trial: optuna.Trial) -> dict[str, Any]:
    kind = pick("kind", lambda: trial.suggest_categorical("kind", list(ITEMKNN_KINDS)))
    params = {
        "kind": kind,
        "neighbours": pick(
            "neighbours", lambda: trial.suggest_int("neighbours", 10, 500, log=True)
        ),
        "weighting": pick(
            "weighting", lambda: trial.suggest_categorical("weighting", list(WEIGHTINGS))
        ),
    }
    if kind == "bm25":
        params["bm25_k1"] = pick(
            "bm25_k1", lambda: trial.suggest_float("bm25_k1", 0.5, 200, log=True)
        )
        params["bm25_b"] = pick("bm25_b", lambda: trial.suggest_float("bm25_b", 0.0, 1.0))
    return params


SPACES: dict[str, Callable[[Suggest, optuna.Trial], dict[str, Any]]] = {
    "als": _als,
    "ease": _ease,
    "rp3beta": _rp3beta,
    "itemknn": _itemknn,
}


def search_space(name: str, fixed: dict[str, Any], trial: optuna.Trial) -> dict[str, Any]:
    """One trial's parameters for generator ``name``; keys in ``fixed`` keep their value."""

    def pick(key: str, suggest: Callable[[], Any]) -> Any:
        return fixed[key] if key in fixed else suggest()

    return SPACES[name](pick, trial)


def configured(name: str, setting: Any) -> dict[str, Any]:
    """The config's values of the searched parameters (the first trial of every study)."""
    values = dataclasses.asdict(setting)
    return {key: values[key] for key in search_keys(name, values)}


def validation_ndcg(
    name: str,
    setting: Any,
    val: StageData,
    users: np.ndarray,
    k: int,
    seed: int,
    *,
    matrix: Any = None,
    num_threads: int = 2,
) -> float:
    """NDCG@k on validation of one generator fitted on the train split with ``setting``."""
    model = fit_generator(name, val.fit, setting, seed, matrix=matrix, num_threads=num_threads)
    cands = collect_candidates(
        iter_candidates(StageModels({name: model}), val.seen, users, k, num_threads=num_threads)
    )
    relevant = relevant_sets(val.labels, users)
    n_catalogue = int(val.fit["artist"].nunique())
    return float(evaluate_topk(generator_topk(cands, name, k), relevant, k, n_catalogue)["ndcg"])


def select_models(
    val: StageData,
    settings: Settings,
    fixed: dict[str, dict[str, Any]],
    cfg: TuningConfig,
    k: int,
    seed: int,
    *,
    num_threads: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Search each tuned generator's settings on ``val`` (train fit, validation labels).

    ``settings`` are the config's sections (the starting point); ``fixed`` the keys the config
    sets explicitly per generator. Returns ``{"chosen": {generator: params}, "generators":
    {generator: summary}, "trials": [one dict per trial], ...}``: the ``model_selection``
    artifact.
    """
    users = sample_users(val.target_users, cfg.max_users, seed)
    labels = val.labels[val.labels["user"].isin(users)]
    val = dataclasses.replace(val, labels=labels)
    names = [g for g in TUNED if g in settings]
    budget = {g: cfg.trials.get(g, 0) if cfg.enabled else 0 for g in names}
    matrix = stage_matrix(val.fit) if set(names) - {"als"} else None
    start = clock()
    deadline = start + cfg.seconds
    trials: list[dict[str, Any]] = []
    chosen: dict[str, dict[str, Any]] = {}
    summary: dict[str, dict[str, Any]] = {}
    logging.getLogger("optuna").setLevel(logging.WARNING)
    for index, name in enumerate(names):
        base = settings[name]
        own_fixed = {key: v for key, v in fixed.get(name, {}).items() if key in _keys(name)}
        remaining = sum(budget[g] for g in names[index:])
        share = max(deadline - clock(), 0.0) * budget[name] / remaining if remaining else 0.0
        t0 = clock()

        def objective(
            trial: optuna.Trial, name: str = name, base: Any = base, own_fixed: dict = own_fixed
        ) -> float:
            params = search_space(name, own_fixed, trial)
            setting = dataclasses.replace(base, **params)
            began = clock()
            value = validation_ndcg(
                name, setting, val, users, k, seed, matrix=matrix, num_threads=num_threads
            )
            trial.set_user_attr("seconds", round(clock() - began, 3))
            return value

        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(
                seed=seed + index, n_startup_trials=max(3, min(10, budget[name] // 3))
            ),
        )
        first = {**configured(name, base), **own_fixed}
        study.enqueue_trial({p: v for p, v in first.items() if p not in own_fixed})
        n_trials = max(budget[name], 1)  # the configured values are always scored
        study.optimize(objective, n_trials=n_trials, timeout=share if budget[name] else None)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = max(done, key=lambda t: (t.value, -t.number))
        params = {**configured(name, base), **own_fixed, **best.params}
        params = {p: v for p, v in params.items() if p in search_keys(name, params)}
        chosen[name] = params
        summary[name] = {
            "val_ndcg": float(best.value),
            "configured_val_ndcg": float(done[0].value),
            "trials": len(done),
            "budget_trials": budget[name],
            "seconds": round(clock() - t0, 3),
            "stopped": "trials" if len(done) >= n_trials else "time",
            "best_trial": best.number,
            "fixed": sorted(own_fixed),
            "params": params,
        }
        for t in done:
            trials.append(
                {
                    "generator": name,
                    "trial": t.number,
                    "ndcg": float(t.value),
                    "seconds": t.user_attrs.get("seconds"),
                    "params": {**own_fixed, **t.params},
                }
            )
    return {
        "k": k,
        "metric": f"ndcg@{k}",
        "validation_listeners": len(users),
        "seconds": round(clock() - start, 3),
        "budget_seconds": cfg.seconds,
        "enabled": cfg.enabled,
        "chosen": chosen,
        "generators": summary,
        "trials": trials,
    }


def _keys(name: str) -> set[str]:
    """Every parameter the search space of ``name`` can set."""
    everything = {
        "als": {"weighting", "factors", "regularization", "alpha", "iterations"}
        | {"bm25_k1", "bm25_b"},
        "ease": {"regularization", "weighting"},
        "rp3beta": {"alpha", "beta", "neighbours", "weighting"},
        "itemknn": {"kind", "neighbours", "weighting", "bm25_k1", "bm25_b"},
    }
    return everything[name]


def search_keys(name: str, params: dict[str, Any]) -> set[str]:
    """The parameters that matter for these values (BM25's K1/B only with BM25)."""
    keys = _keys(name)
    bm25 = params.get("weighting" if name == "als" else "kind") == "bm25"
    return keys if bm25 else keys - {"bm25_k1", "bm25_b"}


def trials_frame(selection: dict[str, Any]) -> pd.DataFrame:
    """Every trial of a ``model_selection`` result as a table (one column per parameter)."""
    rows = [
        {"generator": t["generator"], "trial": t["trial"], "ndcg": t["ndcg"], **t["params"]}
        for t in selection.get("trials", [])
    ]
    return pd.DataFrame(rows)
