"""How many sweeps a warm-started ALS fit needs (``als.warm_iterations``), without test labels.

The test-stage model fits train+val and the serve model everything; each may start from the
previous stage's factors (``als.warm_start``). For each ``--config`` this script takes the fit
rows of the val and test stages exactly as the pipeline does (``protocol.stage_data``; the test
stage's *fit* rows are train+val, its labels are never read), fits the val model cold, and
compares the ALS objective (implicit's ``calculate_loss``) on the test-stage matrix of

- a cold fit after 1..``--iterations`` sweeps (the configured iteration count by default), and
- a fit warm-started from the val model after 0..``--max-warm`` sweeps,

printing, per warm sweep count, its loss relative to the cold fit's final loss and the
agreement of the two models' top-10 artists (over ``--sample`` listeners). The smallest count
whose loss is at most the cold fit's is the one to configure. Run from the repo root, e.g.::

    uv run python benchmarks/tune_warm_start.py --config .musicrec/sample/musicrec.toml \\
        --config benchmarks/configs/real_audioscrobbler.toml
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from implicit.cpu import _als

from musicrec_assets.core.artifacts import read_parquet
from musicrec_assets.core.config import load_config
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.generators import als as als_mod


def _loss(model: als_mod.ALSModel, fit: pd.DataFrame, cfg) -> float:
    tm = als_mod.train_matrix(fit, cfg)
    cui = (tm.weighted * cfg.alpha).astype(np.float32).tocsr()
    return float(
        _als.calculate_loss(cui, model.user_factors, model.item_factors, cfg.regularization, 2)
    )


def _top10(model: als_mod.ALSModel, users: np.ndarray) -> np.ndarray:
    s = als_mod.score(model, model.user_factors[model.user_index(users)])
    return np.argsort(-s, axis=1)[:, :10]


def _agreement(a: als_mod.ALSModel, b: als_mod.ALSModel, users: np.ndarray) -> float:
    ta, tb = _top10(a, users), _top10(b, users)
    same = [len(set(x) & set(y)) / 10 for x, y in zip(ta, tb, strict=True)]
    return float(np.mean(same))


def tune(config: Path, iterations: int | None, max_warm: int, sample: int) -> dict:
    cfg = load_config(config)
    splits = read_parquet(cfg.storage_dir / "interaction_splits.parquet")
    base = cfg.als if iterations is None else dataclasses.replace(cfg.als, iterations=iterations)
    val_fit = stage_data(splits, "val").fit
    test_fit = stage_data(splits, "test").fit
    val_model = als_mod.fit_als(val_fit, base, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    users = np.sort(rng.choice(val_model.users, min(sample, len(val_model.users)), replace=False))
    cold_curve = []
    for it in range(1, base.iterations + 1):
        m = als_mod.fit_als(test_fit, dataclasses.replace(base, iterations=it), cfg.seed)
        cold_curve.append(_loss(m, test_fit, base))
    cold = als_mod.fit_als(test_fit, base, cfg.seed)
    rows = []
    for k in range(max_warm + 1):
        t0 = time.perf_counter()
        warm = als_mod.fit_als(
            test_fit,
            dataclasses.replace(base, warm_iterations=k),
            cfg.seed,
            warm_start=val_model,
        )
        rows.append(
            {
                "warm_sweeps": k,
                "seconds": round(time.perf_counter() - t0, 2),
                "loss_vs_cold": _loss(warm, test_fit, base) / cold_curve[-1],
                "top10_agreement_with_cold": _agreement(cold, warm, users),
            }
        )
    enough = next((r["warm_sweeps"] for r in rows if r["loss_vs_cold"] <= 1.0), None)
    return {
        "config": str(config),
        "cold_iterations": base.iterations,
        "cold_loss_curve_vs_final": [c / cold_curve[-1] for c in cold_curve],
        "warm": rows,
        "smallest_warm_sweeps_reaching_cold_loss": enough,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", required=True, type=Path)
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--max-warm", type=int, default=12)
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path(".musicrec/bench/tune_warm_start.json"))
    args = ap.parse_args()
    results = []
    for config in args.config:
        r = tune(config, args.iterations, args.max_warm, args.sample)
        results.append(r)
        print(f"\n== {config}: cold fit {r['cold_iterations']} sweeps")
        curve = ", ".join(f"{c:.4f}" for c in r["cold_loss_curve_vs_final"])
        print(f"   cold loss / final after 1..n sweeps: {curve}")
        print(pd.DataFrame(r["warm"]).to_string(index=False))
        print(
            f"   smallest warm sweep count reaching the cold loss: {r['smallest_warm_sweeps_reaching_cold_loss']}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
