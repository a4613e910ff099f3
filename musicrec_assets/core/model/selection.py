"""``model_selection``: each generator's hyper-parameters chosen on the validation split.

Every trial fits the generator on the train split only and scores NDCG@K of its own top-K over
the validation listeners (full catalogue, train artists removed), exactly as the evaluation
scores a system; test labels are never read. The search is Optuna's TPE sampler, seeded, one
study per generator, run one trial at a time so that a seed gives the same trials and the same
choice. The budget is a number of trials per generator plus a wall-clock cap for the whole
search; when the cap cuts a study short its record says so (``stopped = "time"``), and only then
can a result depend on the machine's speed. The config's own values are always the first trial,
so the search never chooses something worse on validation than the configured settings.
Parameters set explicitly in the config are fixed and not searched. ``select_models`` is the
asset's entry point; ``search_models`` searches on one stage's data.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import optuna
import pandas as pd

from ..config import ITEMKNN_KINDS, TUNED, WEIGHTINGS, Config, TuningConfig
from ..evaluation.metrics import evaluate_topk, relevant_sets
from ..evaluation.protocol import StageData, sample_users, stage_data
from ..parallel import THREADS
from .candidates import generator_topk
from .generators.stages import (
    Settings,
    StageModels,
    fit_generator,
    settings_from_config,
    stage_matrix,
)
from .topn import collect_candidates, iter_candidates


class Param(NamedTuple):
    """One searched parameter: categorical ``choices`` or a numeric range (log scale or not),
    searched only when the parameter ``when`` = (other parameter, value) holds."""

    kind: str  # cat | float | int
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    when: tuple[str, Any] | None = None


_BM25 = ("weighting", "bm25")
SPACES: dict[str, dict[str, Param]] = {
    "als": {
        "weighting": Param("cat", ("none", "log1p", "bm25")),
        "bm25_k1": Param("float", low=0.5, high=200.0, log=True, when=_BM25),
        "bm25_b": Param("float", low=0.0, high=1.0, when=_BM25),
        "factors": Param("cat", (32, 64, 128)),
        "regularization": Param("float", low=0.01, high=1000.0, log=True),
        "alpha": Param("float", low=0.1, high=100.0, log=True),
        "iterations": Param("int", low=5, high=40),
    },
    "ease": {
        "regularization": Param("float", low=1.0, high=1e5, log=True),
        "weighting": Param("cat", ("binary", "log1p")),
    },
    "rp3beta": {
        "alpha": Param("float", low=0.1, high=2.0),
        "beta": Param("float", low=0.0, high=1.0),
        "neighbours": Param("int", low=10, high=500, log=True),
        "weighting": Param("cat", ("binary", "log1p")),
    },
    "itemknn": {
        "kind": Param("cat", ITEMKNN_KINDS),
        "bm25_k1": Param("float", low=0.5, high=200.0, log=True, when=("kind", "bm25")),
        "bm25_b": Param("float", low=0.0, high=1.0, when=("kind", "bm25")),
        "neighbours": Param("int", low=10, high=500, log=True),
        "weighting": Param("cat", WEIGHTINGS),
    },
}


def search_space(
    name: str, fixed: dict[str, Any], base: dict[str, Any], trial: optuna.Trial
) -> dict[str, Any]:
    """One trial's parameters for generator ``name``: keys in ``fixed`` keep their value, the
    others are suggested from ``SPACES`` (widened to include the configured value ``base``, so
    the config's own settings are always a point of the space)."""
    params: dict[str, Any] = {}
    for key, p in SPACES[name].items():
        if p.when is not None and params.get(p.when[0]) != p.when[1]:
            continue
        if key in fixed:
            params[key] = fixed[key]
        elif p.kind == "cat":
            choices = p.choices if base[key] in p.choices else (*p.choices, base[key])
            params[key] = trial.suggest_categorical(key, list(choices))
        else:
            low, high = min(p.low, base[key]), max(p.high, base[key])
            if p.log:
                low = max(low, 1e-6)
            suggest = trial.suggest_int if p.kind == "int" else trial.suggest_float
            params[key] = suggest(key, low, high, log=p.log)
    return params


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
    num_threads: int = THREADS,
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
    splits: pd.DataFrame, cfg: Config, *, num_threads: int = THREADS
) -> tuple[dict[str, Any], dict[str, float]]:
    """``model_selection``: every tuned generator's settings searched on the validation stage
    (fit on train, scored on validation labels), with the config's explicit values fixed;
    and the seconds each search took. The Spark engine's ALS is not searched here: it fits
    with ``[engine.spark.als]`` (implicit's values do not carry over to pyspark.ml ALS)."""
    val = stage_data(splits, "val", validate=False)
    settings = settings_from_config(cfg)
    if cfg.engine.kind == "spark":
        settings.pop("als", None)
    return search_models(
        val,
        settings,
        cfg.fixed,
        cfg.tuning,
        cfg.evaluation.k,
        cfg.seed,
        num_threads=num_threads,
    )


def search_models(
    val: StageData,
    settings: Settings,
    fixed: dict[str, dict[str, Any]],
    cfg: TuningConfig,
    k: int,
    seed: int,
    *,
    num_threads: int = THREADS,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Search each tuned generator's settings on ``val`` (train fit, validation labels).

    ``settings`` are the config's sections (the starting point); ``fixed`` the keys the config
    sets explicitly per generator. Returns (``{"chosen": {generator: params}, "generators":
    {generator: summary}, "trials": [one dict per trial], ...}``, the ``model_selection``
    artifact, which holds no clock readings so that a seed gives the same bytes; and the seconds
    each study took).
    """
    users = sample_users(val.target_users, cfg.max_users, seed)
    labels = val.labels[val.labels["user"].isin(users)]
    val = dataclasses.replace(val, labels=labels)
    names = [g for g in TUNED if g in settings]
    budget = {g: cfg.trials.get(g, 0) if cfg.enabled else 0 for g in names}
    matrix = stage_matrix(val.fit) if set(names) - {"als"} else None
    start = clock()
    deadline = start + cfg.seconds
    seconds: dict[str, float] = {}
    trials: list[dict[str, Any]] = []
    chosen: dict[str, dict[str, Any]] = {}
    summary: dict[str, dict[str, Any]] = {}
    logging.getLogger("optuna").setLevel(logging.WARNING)
    for index, name in enumerate(names):
        base = settings[name]
        own_fixed = {key: v for key, v in fixed.get(name, {}).items() if key in SPACES[name]}
        remaining = sum(budget[g] for g in names[index:])
        share = max(deadline - clock(), 0.0) * budget[name] / remaining if remaining else 0.0
        t0 = clock()

        def objective(
            trial: optuna.Trial, name: str = name, base: Any = base, own_fixed: dict = own_fixed
        ) -> float:
            params = search_space(name, own_fixed, dataclasses.asdict(base), trial)
            setting = dataclasses.replace(base, **params)
            return validation_ndcg(
                name, setting, val, users, k, seed, matrix=matrix, num_threads=num_threads
            )

        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(
                seed=seed + index, n_startup_trials=max(3, min(10, budget[name] // 3))
            ),
        )
        first = {**configured(name, base), **own_fixed}
        study.enqueue_trial({p: v for p, v in first.items() if p not in own_fixed})
        n_trials = max(budget[name], 1)
        study.optimize(objective, n_trials=1)  # the configured values, whatever the clock says
        while len(study.trials) < n_trials and clock() - t0 < share:
            study.optimize(objective, n_trials=1)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = max(done, key=lambda t: (t.value, -t.number))
        merged = {**configured(name, base), **own_fixed, **best.params}
        params = {p: merged[p] for p in search_keys(name, merged)}
        chosen[name] = params
        summary[name] = {
            "val_ndcg": float(best.value),
            "configured_val_ndcg": float(done[0].value),
            "trials": len(done),
            "budget_trials": budget[name],
            "stopped": "trials" if len(done) >= n_trials else "time",
            "best_trial": best.number,
            "fixed": sorted(own_fixed),
            "params": params,
        }
        seconds[name] = round(clock() - t0, 3)
        for t in done:
            trials.append(
                {
                    "generator": name,
                    "trial": t.number,
                    "ndcg": float(t.value),
                    "params": {
                        p: {**own_fixed, **t.params}[p]
                        for p in search_keys(name, {**own_fixed, **t.params})
                    },
                }
            )
    return {
        "k": k,
        "metric": f"ndcg@{k}",
        "validation_listeners": len(users),
        "budget_seconds": cfg.seconds,
        "enabled": cfg.enabled,
        "chosen": chosen,
        "generators": summary,
        "trials": trials,
    }, {**seconds, "total": round(clock() - start, 3)}


def search_keys(name: str, params: dict[str, Any]) -> tuple[str, ...]:
    """The searched parameters that matter for these values (BM25's K1/B only with BM25), in
    the order of ``SPACES`` (so a choice is written the same way every time)."""
    return tuple(
        key
        for key, p in SPACES[name].items()
        if p.when is None or params.get(p.when[0]) == p.when[1]
    )


def trials_frame(selection: dict[str, Any]) -> pd.DataFrame:
    """Every trial of a ``model_selection`` result as a table (one column per parameter)."""
    rows = [
        {"generator": t["generator"], "trial": t["trial"], "ndcg": t["ndcg"], **t["params"]}
        for t in selection.get("trials", [])
    ]
    return pd.DataFrame(rows)
