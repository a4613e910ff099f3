"""Reranker settings compared on validation only: the gate's NDCG@10 on held-out validation
listeners (full catalogue), for a few LightGBM settings, on materialized artifacts.

Run: ``uv run python benchmarks/tune_reranker.py --config C [--config C2 ...]`` after
``uv run musicrec materialize --config C --select 'rerank_dataset'`` (reads rerank_dataset and
interaction_splits; never the test labels).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

from musicrec_assets.core import recommend
from musicrec_assets.core.artifacts import load_artifact
from musicrec_assets.core.config import load_config

GRID = {
    "num_leaves": (7, 31),
    "min_child_samples": (20, 100),
    "learning_rate": (0.05, 0.2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True)
    args = parser.parse_args()
    for path in args.config:
        cfg = load_config(path)
        data = load_artifact(cfg.storage_dir, "rerank_dataset")
        splits = load_artifact(cfg.storage_dir, "interaction_splits")
        print(f"== {path}: {data['user'].nunique()} validation listeners, {len(data)} rows")
        rows = []
        for values in itertools.product(*GRID.values()):
            rcfg = dataclasses.replace(cfg.reranker, **dict(zip(GRID, values, strict=True)))
            t0 = time.perf_counter()
            booster, info = recommend.fit_reranker(data, rcfg, cfg.seed)
            choice = recommend.choose_blend(
                data, booster, splits, cfg.blend, rcfg, cfg.evaluation.k, cfg.seed
            )
            gate = choice["gate"]
            rows.append(
                (
                    gate["reranked_ndcg"],
                    gate["als_ndcg"],
                    choice["blend_alpha"],
                    values,
                    info["best_iteration"],
                    time.perf_counter() - t0,
                )
            )
        for ndcg, als, alpha, values, best, secs in sorted(rows, reverse=True):
            print(
                f"  {dict(zip(GRID, values, strict=True))}: val NDCG {ndcg:.4f} (ALS {als:.4f}), "
                f"alpha {alpha}, best iteration {best}, {secs:.1f} s"
            )


if __name__ == "__main__":
    main()
