"""The driver script ``spark-submit`` runs for one stage, launched by an asset through Dagster
Pipes (``spark.launch``): it reads the stage and its Parquet paths from the Pipes extras, runs
the stage on the session ``spark-submit`` configured, and reports logs and counts back through
Pipes, so the JVM never lives in the Dagster process.

Run as a file (``spark-submit .../submit.py``), hence absolute imports.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster_pipes import open_dagster_pipes

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run_stage(extras: dict[str, Any]) -> dict[str, Any]:
    """Run ``extras["stage"]`` and return the figures it reports (rows in / out, seconds...)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.sparkContext.setCheckpointDir(str(extras["scratch_dir"]) + "/checkpoints")
    start = time.perf_counter()
    try:
        figures = _stage(spark, extras)
    finally:
        spark.stop()
    return {**figures, "seconds": round(time.perf_counter() - start, 3)}


def _stage(spark: SparkSession, extras: dict[str, Any]) -> dict[str, Any]:
    from musicrec_assets.spark import listeners
    from musicrec_assets.spark.ingest import interaction_splits, user_artist_plays

    stage, out = extras["stage"], extras["out"]
    if stage == "user_artist_plays":
        return user_artist_plays(spark, extras["listens"], extras["catalog"], out)
    if stage == "interaction_splits":
        method = interaction_splits(
            spark, extras["plays"], out, scratch_dir=extras["scratch_dir"], **extras["split"]
        )
        return {"method": method}
    if stage == "als_fits":
        return _als_fits(spark, extras)
    if stage == "candidates":
        names = tuple(extras["names"])
        return listeners.candidates(
            spark, extras["rows"], extras["models"], names, extras["n"], out
        )
    if stage == "reranked_topk":
        return listeners.reranked_topk(spark, extras["paths"], extras["k"], extras["n"], out)
    if stage == "playlists":
        return listeners.playlists(spark, extras["paths"], extras["config"], out)
    raise ValueError(f"unknown Spark stage {stage!r}")


def _als_fits(spark: SparkSession, extras: dict[str, Any]) -> dict[str, Any]:
    """Fit ALS on each named Parquet of fit rows; write each model as ``<out>/<name>.npz``."""
    from musicrec_assets.core.artifacts import write_npz
    from musicrec_assets.core.config import ALSConfig, SparkALSConfig
    from musicrec_assets.spark.als import fit_als_spark, fit_rows

    cfg, spark_cfg = ALSConfig(**extras["als"]), SparkALSConfig(**extras["spark_als"])
    figures: dict[str, Any] = {}
    for name, path in extras["fits"].items():
        start = time.perf_counter()
        model = fit_als_spark(
            spark, fit_rows(spark, path), cfg, spark_cfg, extras["seed"], extras["scratch_dir"]
        )
        write_npz(model.to_npz(), Path(extras["out"]) / f"{name}.npz")
        figures[f"{name}/fit_seconds"] = round(time.perf_counter() - start, 3)
    return figures


def main() -> None:
    """Open the Pipes channel the launching asset set up, run the stage, report its figures."""
    with open_dagster_pipes() as pipes:
        extras = dict(pipes.extras)
        pipes.log.info(f"Spark stage {extras['stage']} → {extras['out']}")
        figures = run_stage(extras)
        pipes.log.info(f"Spark stage {extras['stage']} done: {figures}")
        pipes.report_asset_materialization(metadata=figures)


if __name__ == "__main__":
    main()
