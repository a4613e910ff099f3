"""What the Spark tests share: a session that is always stopped, a synthetic world as the
Parquet the Spark fit reads, the ALS stage fit on it, and its held-out NDCG@10.

One SparkContext lives per process, so a test that needs another master (the standalone cluster)
opens its sessions here one after the other instead of reusing a fixture's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from musicrec_assets.core.artifacts import write_parquet
from musicrec_assets.core.config import ALSConfig, SparkALSConfig, SparkConfig
from musicrec_assets.core.evaluation.metrics import evaluate_topk
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.candidates import generator_topk
from musicrec_assets.core.model.generators.als import ALSModel
from musicrec_assets.core.model.generators.stages import StageModels
from musicrec_assets.core.model.topn import collect_candidates, iter_candidates
from musicrec_assets_tests.model_data import make_world

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SEED = 42
K = 10
SPLITS = "interaction_splits.parquet"


@contextmanager
def open_session(cfg: SparkConfig) -> Iterator[SparkSession]:
    """A musicrec session of ``cfg``, stopped on exit even if the test failed."""
    from musicrec_assets.spark.session import spark_session

    session = spark_session(cfg, "musicrec-test")
    try:
        yield session
    finally:
        session.stop()


def write_world(root: Path) -> pd.DataFrame:
    """A 300 x 250 synthetic world's splits, also written to ``root`` as the Spark fit's input."""
    splits = make_world(300, 250, 8, seed=5).splits
    write_parquet(splits, root / SPLITS)
    return splits


def fit_spark(
    spark: SparkSession, root: Path, stage: str, cfg: ALSConfig
) -> tuple[ALSModel, float]:
    """The Spark ALS fit of ``stage`` of the world in ``root``, and its seconds."""
    from musicrec_assets.spark.als import fit_als_spark, stage_fit_rows

    start = time.perf_counter()
    rows = stage_fit_rows(spark, root / SPLITS, stage)
    model = fit_als_spark(spark, rows, cfg, SparkALSConfig(), SEED, root / "scratch")
    return model, time.perf_counter() - start


def heldout_ndcg(model: ALSModel, splits: pd.DataFrame) -> np.ndarray:
    """Per-listener NDCG@K on the test split, from ALS's own top-K of the candidate table."""
    test = stage_data(splits, "test", with_labels=True)
    models = StageModels({"als": model})
    cands = collect_candidates(iter_candidates(models, test.seen, test.target_users, K))
    top = generator_topk(cands, "als", K)
    out = evaluate_topk(top, test.labels, K, len(model.artists), users=test.target_users)
    return out["per_user"]["ndcg"]
