"""Choose the Spark engine's ALS values (``[engine.spark.als]``: rank, reg_param, alpha, max_iter)
on the validation split of real data; test labels are read only for a report after the choice.

pyspark.ml ALS regularises by each row's count (λ·n_u, λ·n_i) and weighs confidence 1 + α·w, so
implicit's ``[als]`` values do not carry over and Spark needs its own. For ``--config`` this
script reads the ``interaction_splits`` artifact (run ``musicrec materialize --config C --select
'*model_selection'`` first) and ``model_selection.json`` when present, then:

1. opens one ``local[2]`` session and reads the val stage's fit rows (train split) once, cached;
2. runs a seeded Optuna TPE study of ``--trials`` Spark fits (the current ``SparkALSConfig``
   defaults are the first trial) over rank {32, 64, 128}, max_iter {10, 15}, reg_param
   0.01..10 and alpha 0.1..40 (both log scale); the matrix (k-core, weighting) and the scoring
   (cosine, popularity blend) are ``[als]``'s as the pipeline uses them: the config's section
   with ``model_selection``'s choice applied;
3. scores each fit by validation NDCG@K exactly as ``model_selection`` does
   (``core.model.selection.validation_ndcg``: a seeded sample of ``[tuning] max_users`` val
   target users, the generator's own top-K of ``iter_candidates``, ``evaluate_topk``), and
   scores the local implicit ALS the same way (``validation_ndcg`` itself) as the reference;
4. prints the trials sorted by NDCG with fit seconds, and the chosen values (best NDCG, ties to
   the earlier trial);
5. unless ``--no-test``, ONCE for the chosen values only: test NDCG@K [bootstrap CI] of Spark vs
   the local fit (both cold fits on train+val, test listeners as the evaluation samples them) and
   a paired bootstrap of the difference. It is a report; nothing is chosen from it.

``--values RANK,REG,ALPHA,ITER`` skips the search and evaluates those values (validation and the
test report), e.g. the values chosen on HetRec on another data set. Run from the repo root::

    uv run python benchmarks/tune_spark_als.py --config benchmarks/configs/real_hetrec2011_dev.toml
    uv run python benchmarks/tune_spark_als.py --config benchmarks/configs/real_audioscrobbler.toml \\
        --values 32,0.87,2.0,15
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from musicrec_assets.core.artifacts import artifact_path, read_parquet
from musicrec_assets.core.config import ALSConfig, Config, SparkALSConfig, SparkConfig, load_config
from musicrec_assets.core.evaluation.metrics import (
    bootstrap_ci,
    evaluate_topk,
    paired_bootstrap,
    relevant_sets,
)
from musicrec_assets.core.evaluation.protocol import StageData, sample_users, stage_data
from musicrec_assets.core.model.candidates import generator_topk
from musicrec_assets.core.model.generators.als import ALSModel, fit_als
from musicrec_assets.core.model.generators.stages import StageModels, chosen_settings
from musicrec_assets.core.model.selection import validation_ndcg
from musicrec_assets.core.model.topn import collect_candidates, iter_candidates

RANKS = (32, 64, 128)
MAX_ITERS = (10, 15)
REG = (0.01, 10.0)
ALPHA = (0.1, 40.0)


def _per_user_ndcg(
    model: ALSModel, data: StageData, users: np.ndarray, k: int, n_catalogue: int, threads: int
) -> np.ndarray:
    """Per-listener NDCG@k of ALS's own top-k among ``users`` (``validation_ndcg``'s scoring)."""
    cands = collect_candidates(
        iter_candidates(StageModels({"als": model}), data.seen, users, k, num_threads=threads)
    )
    out = evaluate_topk(
        generator_topk(cands, "als", k), relevant_sets(data.labels, users), k, n_catalogue
    )
    return np.asarray(out["per_user"]["ndcg"], dtype=np.float64)


def _als_section(cfg: Config) -> tuple[ALSConfig, str]:
    """``[als]`` as the pipeline fits it: with ``model_selection``'s choice when it exists."""
    path = artifact_path(cfg.storage_dir, "model_selection")
    if not path.exists():
        return cfg.als, "config [als] (no model_selection.json)"
    selection = json.loads(path.read_text())
    return chosen_settings(cfg, selection)["als"], "config [als] + model_selection's choice"


def _fmt(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )


def _spark_values(s: SparkALSConfig) -> dict[str, Any]:
    return {"rank": s.rank, "reg_param": s.reg_param, "alpha": s.alpha, "max_iter": s.max_iter}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from musicrec_assets.spark.als import fit_als_spark, stage_fit_rows
    from musicrec_assets.spark.session import spark_session

    cfg = load_config(args.config)
    seed, k, threads = cfg.seed, cfg.evaluation.k, cfg.num_threads
    splits_path = artifact_path(cfg.storage_dir, "interaction_splits")
    splits = read_parquet(splits_path)
    als_cfg, als_source = _als_section(cfg)
    print(f"config: {cfg.path}\nsplits: {splits_path} ({len(splits):,} rows)")
    print(f"[als] for the matrix and scoring ({als_source}): {als_cfg}")

    val = stage_data(splits, "val", validate=False)
    val_users = sample_users(val.target_users, cfg.tuning.max_users, seed)
    n_cat_val = int(val.fit["artist"].nunique())
    print(f"validation: {len(val_users)} listeners, NDCG@{k}\n")

    # The local references, scored by model_selection's own function.
    local_rows = []
    for label, setting in (("pipeline [als]", als_cfg), ("config [als] as written", cfg.als)):
        t0 = time.perf_counter()
        ndcg = validation_ndcg("als", setting, val, val_users, k, seed, num_threads=threads)
        local_rows.append((label, setting, ndcg, time.perf_counter() - t0))
    # The Spark fits are scored by _per_user_ndcg: check it is validation_ndcg's scoring.
    same = _per_user_ndcg(
        fit_als(val.fit, als_cfg, seed, num_threads=threads), val, val_users, k, n_cat_val, threads
    ).mean()
    if not np.isclose(same, local_rows[0][2], rtol=0, atol=1e-12):
        raise AssertionError(f"scoring differs from validation_ndcg: {same} vs {local_rows[0][2]}")

    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="spark_tune_"))
    spark = spark_session(SparkConfig(master=args.master, scratch_dir=scratch), "musicrec-tune")
    results: list[dict[str, Any]] = []
    try:
        val_rows = stage_fit_rows(spark, splits_path, "val").cache()
        val_rows.count()

        def spark_val(s: SparkALSConfig) -> tuple[float, float, ALSModel]:
            t0 = time.perf_counter()
            model = fit_als_spark(spark, val_rows, als_cfg, s, seed, scratch)
            secs = time.perf_counter() - t0
            ndcg = _per_user_ndcg(model, val, val_users, k, n_cat_val, threads).mean()
            return float(ndcg), secs, model

        if args.values:
            rank, reg, alpha, it = args.values.split(",")
            candidates = [
                SparkALSConfig(
                    rank=int(rank), reg_param=float(reg), alpha=float(alpha), max_iter=int(it)
                )
            ]
            for n, s in enumerate(candidates):
                ndcg, secs, _ = spark_val(s)
                results.append({"trial": n, **_spark_values(s), "ndcg": ndcg, "seconds": secs})
        else:
            logging.getLogger("optuna").setLevel(logging.WARNING)
            study = optuna.create_study(
                direction="maximize",
                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=args.startup),
            )
            study.enqueue_trial(_spark_values(SparkALSConfig()))  # the current defaults first

            def objective(trial: optuna.Trial) -> float:
                s = SparkALSConfig(
                    rank=trial.suggest_categorical("rank", list(RANKS)),
                    reg_param=trial.suggest_float("reg_param", *REG, log=True),
                    alpha=trial.suggest_float("alpha", *ALPHA, log=True),
                    max_iter=trial.suggest_categorical("max_iter", list(MAX_ITERS)),
                )
                ndcg, secs, _ = spark_val(s)
                row = {"trial": trial.number, **_spark_values(s), "ndcg": ndcg, "seconds": secs}
                results.append(row)
                print(
                    f"  trial {trial.number:2d}  ndcg {ndcg:.4f}  {secs:5.1f} s  {_fmt(_spark_values(s))}"
                )
                return ndcg

            study.optimize(objective, n_trials=args.trials)
        val_rows.unpersist()

        best = max(results, key=lambda r: (r["ndcg"], -r["trial"]))
        chosen = SparkALSConfig(
            rank=best["rank"],
            reg_param=best["reg_param"],
            alpha=best["alpha"],
            max_iter=best["max_iter"],
        )
        print(f"\nvalidation NDCG@{k} ({len(val_users)} listeners), best first")
        print(
            f"{'engine':6} {'trial':>5} {'rank':>4} {'reg_param':>9} {'alpha':>8} "
            f"{'max_iter':>8} {'ndcg':>7} {'fit s':>6}"
        )
        for r in sorted(results, key=lambda r: (-r["ndcg"], r["trial"])):
            print(
                f"{'spark':6} {r['trial']:5d} {r['rank']:4d} {r['reg_param']:9.4g} "
                f"{r['alpha']:8.4g} {r['max_iter']:8d} {r['ndcg']:7.4f} {r['seconds']:6.1f}"
            )
        for label, setting, ndcg, secs in local_rows:
            print(
                f"local  {label}: factors={setting.factors}, "
                f"regularization={setting.regularization:.4g}, alpha={setting.alpha:.4g}, "
                f"iterations={setting.iterations}, weighting={setting.weighting}: "
                f"ndcg {ndcg:.4f}, fit+score {secs:.1f} s"
            )
        print(
            f"\nchosen [engine.spark.als]: {_fmt(_spark_values(chosen))} "
            f"(validation NDCG@{k} {best['ndcg']:.4f}, trial {best['trial']})"
        )

        report: dict[str, Any] = {
            "config": str(cfg.path),
            "als": dataclasses.asdict(als_cfg),
            "validation_listeners": len(val_users),
            "trials": results,
            "local_val": {label: ndcg for label, _, ndcg, _ in local_rows},
            "chosen": _spark_values(chosen),
            "chosen_val_ndcg": best["ndcg"],
        }
        if not args.no_test:
            report["test"] = _test_report(
                spark, splits, splits_path, als_cfg, chosen, cfg, scratch, args.bootstrap
            )
    finally:
        spark.stop()
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return report


def _test_report(spark, splits, splits_path, als_cfg, chosen, cfg, scratch, n_boot):
    """Test NDCG@K of the chosen Spark values vs the local fit: a report, chosen from nothing."""
    from musicrec_assets.spark.als import fit_als_spark, stage_fit_rows

    seed, k, threads = cfg.seed, cfg.evaluation.k, cfg.num_threads
    test = stage_data(splits, "test", with_labels=True)
    users = sample_users(test.target_users, cfg.evaluation.max_users, seed)
    n_cat = int(test.fit["artist"].nunique())
    t0 = time.perf_counter()
    local = fit_als(test.fit, als_cfg, seed, num_threads=threads)
    local_s = time.perf_counter() - t0
    rows = stage_fit_rows(spark, splits_path, "test")
    t0 = time.perf_counter()
    model = fit_als_spark(spark, rows, als_cfg, chosen, seed, scratch)
    spark_s = time.perf_counter() - t0
    per = {
        "spark": _per_user_ndcg(model, test, users, k, n_cat, threads),
        "local": _per_user_ndcg(local, test, users, k, n_cat, threads),
    }
    diff = paired_bootstrap(per["spark"], per["local"], n_boot, seed, confidence=0.95)
    secs = {"spark": spark_s, "local": local_s}
    print(
        f"\nREPORT ONLY (not used for choosing): test NDCG@{k}, {len(users)} listeners, "
        f"cold fits on train+val, 95 % bootstrap CI ({n_boot} resamples)"
    )
    out: dict[str, Any] = {"listeners": len(users)}
    for name in ("spark", "local"):
        lo, hi = bootstrap_ci(per[name], n_boot, seed)
        out[name] = {"ndcg": float(per[name].mean()), "ci": [lo, hi], "fit_seconds": secs[name]}
        what = (
            _fmt(_spark_values(chosen))
            if name == "spark"
            else (
                f"factors={als_cfg.factors}, regularization={als_cfg.regularization:.4g}, "
                f"alpha={als_cfg.alpha:.4g}, iterations={als_cfg.iterations}"
            )
        )
        print(
            f"  {name:5}  {per[name].mean():.4f} [{lo:.4f}, {hi:.4f}]  fit {secs[name]:5.1f} s"
            f"  ({what})"
        )
    print(
        f"  spark - local (paired): {diff['diff']:+.4f}, one-sided 95 % bounds "
        f"[{diff['lower']:+.4f}, {diff['upper']:+.4f}], spark ahead in "
        f"{diff['p_better']:.0%} of resamples"
    )
    out["spark_minus_local"] = diff
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="benchmarks/configs/real_hetrec2011_dev.toml")
    p.add_argument("--trials", type=int, default=24, help="Spark fits of the study")
    p.add_argument("--startup", type=int, default=8, help="random trials before TPE")
    p.add_argument("--values", help="RANK,REG_PARAM,ALPHA,MAX_ITER: evaluate these, no search")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--scratch", help="Spark scratch folder (default: a temporary one)")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--no-test", action="store_true", help="skip the test report")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    report = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
