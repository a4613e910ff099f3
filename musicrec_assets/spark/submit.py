"""The driver script ``spark-submit`` runs for one stage, launched by an asset through Dagster
Pipes (``spark.launch``): it reads the stage and its Parquet paths from the Pipes extras, runs
the stage on the session ``spark-submit`` configured, and reports logs and counts back through
Pipes, so the JVM never lives in the Dagster process.

Run as a file (``spark-submit .../submit.py``), hence absolute imports.
"""

from __future__ import annotations

from typing import Any

from dagster_pipes import open_dagster_pipes


def run_stage(extras: dict[str, Any]) -> dict[str, Any]:
    """Run ``extras["stage"]`` and return the figures it reports (rows in / out, dropped...)."""
    from pyspark.sql import SparkSession

    from musicrec_assets.spark.ingest import interaction_splits, user_artist_plays

    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.sparkContext.setCheckpointDir(str(extras["scratch_dir"]) + "/checkpoints")
    try:
        stage = extras["stage"]
        if stage == "user_artist_plays":
            return user_artist_plays(spark, extras["listens"], extras["catalog"], extras["out"])
        if stage == "interaction_splits":
            method = interaction_splits(
                spark,
                extras["plays"],
                extras["out"],
                scratch_dir=extras["scratch_dir"],
                **extras["split"],
            )
            return {"method": method}
        raise ValueError(f"unknown Spark stage {stage!r}")
    finally:
        spark.stop()


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
