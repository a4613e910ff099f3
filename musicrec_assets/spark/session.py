"""A SparkSession set up the way musicrec's jobs need it, from ``[engine.spark]``.

Pitfalls it removes (issue 11): the host name may resolve to a non-loopback address, so a local
master, or a standalone master on 127.0.0.1, binds the driver to 127.0.0.1 (executors must reach
it there); Python workers must run the project's interpreter, not
``python3`` from PATH; times are UTC; Parquet nanosecond timestamps (pandas' unit) are read as
int64 nanoseconds, so min / max of play times are exact and round-trip to pandas unchanged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import SparkConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOOPBACK = "127.0.0.1"


def _on_loopback(master: str) -> bool:
    """Whether the driver and every executor run on this machine, reached through loopback."""
    return master.startswith("local") or master.startswith(f"spark://{LOOPBACK}:")


def session_conf(cfg: SparkConfig) -> dict[str, str]:
    """Every Spark setting musicrec passes (also to ``spark-submit --conf``): its own, then the
    config's ``conf`` table; the keys the config sets by name cannot appear in that table."""
    python = str(cfg.python or sys.executable)
    conf = {
        "spark.master": cfg.master,
        "spark.executor.memory": cfg.executor_memory,
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.legacy.parquet.nanosAsLong": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
    }
    if cfg.scratch_dir is not None:
        conf["spark.local.dir"] = str(Path(cfg.scratch_dir) / "local")
    if _on_loopback(cfg.master):
        conf |= {"spark.driver.host": LOOPBACK, "spark.driver.bindAddress": LOOPBACK}
    return conf | dict(cfg.conf)


def session_env(cfg: SparkConfig) -> dict[str, str]:
    """Environment the JVM and its Python workers need (set before the JVM starts)."""
    python = str(cfg.python or sys.executable)
    env = {"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python}
    if _on_loopback(cfg.master):
        env["SPARK_LOCAL_IP"] = LOOPBACK
    return env


def spark_session(cfg: SparkConfig, app_name: str = "musicrec") -> SparkSession:
    """Start (or reuse) the session of ``cfg``; the caller stops it."""
    from pyspark.sql import SparkSession

    os.environ.update(session_env(cfg))
    if cfg.scratch_dir is not None:
        (Path(cfg.scratch_dir) / "local").mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName(app_name)
    for key, value in session_conf(cfg).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    if cfg.scratch_dir is not None:
        session.sparkContext.setCheckpointDir(str(Path(cfg.scratch_dir) / "checkpoints"))
    return session
