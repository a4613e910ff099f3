"""Launching a Spark stage from an asset: ``spark-submit`` of ``submit.py`` through
``dagster.PipesSubprocessClient``, so the JVM stays out of the Dagster process and the job's
logs and counts reach the event log. Imports no pyspark (the Dagster process never starts it).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from ..core.config import SparkConfig
from .session import session_conf, session_env

SUBMIT_SCRIPT = Path(__file__).with_name("submit.py")


def spark_submit_path() -> str:
    """``spark-submit`` of the pyspark beside this interpreter (the ``spark`` extra), else PATH's."""
    beside = Path(sys.executable).parent / "spark-submit"
    found = str(beside) if beside.exists() else shutil.which("spark-submit")
    if found is None:
        raise RuntimeError(
            "spark-submit not found: install the spark extra (uv sync --extra spark)"
        )
    return found


def submit_command(cfg: SparkConfig, stage: str) -> list[str]:
    """The ``spark-submit`` command line of a stage: master and every musicrec conf as flags."""
    conf = {k: v for k, v in session_conf(cfg).items() if k != "spark.master"}
    flags = [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    name = f"musicrec-{stage}"
    return [spark_submit_path(), "--master", cfg.master, "--name", name, *flags, str(SUBMIT_SCRIPT)]


def _scratch(cfg: SparkConfig) -> Path:
    """The engine's scratch folder (the config loader fills in ``<storage dir>/spark``)."""
    return Path(cfg.scratch_dir) if cfg.scratch_dir is not None else Path("spark-scratch")


def stage_dir(context: dg.AssetExecutionContext, cfg: SparkConfig, stage: str) -> Path:
    """A fresh folder of the run's scratch space for one stage's inputs and output."""
    work = _scratch(cfg) / "runs" / context.run.run_id / stage
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def run_stage(
    context: dg.AssetExecutionContext,
    cfg: SparkConfig,
    stage: str,
    extras: dict[str, Any],
    work: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run ``stage`` on Spark; return its output folder (``<work>/out``, by default in a fresh
    ``stage_dir``) and the figures the job reported through Pipes (plain values)."""
    work = stage_dir(context, cfg, stage) if work is None else work
    out = work / "out"
    scratch = _scratch(cfg)
    (scratch / "local").mkdir(parents=True, exist_ok=True)
    payload = {**extras, "stage": stage, "out": str(out), "scratch_dir": str(scratch)}
    invocation = dg.PipesSubprocessClient().run(
        command=submit_command(cfg, stage),
        context=context,
        extras=payload,
        env=session_env(cfg),
    )
    result = invocation.get_materialize_result()
    figures = {k: getattr(v, "value", v) for k, v in (result.metadata or {}).items()}
    return out, figures


def remove_output(out: Path) -> None:
    """Drop a stage's scratch folder once the asset holds its output (and the run's folder
    when it is empty)."""
    shutil.rmtree(out.parent, ignore_errors=True)
    with contextlib.suppress(OSError):
        out.parent.parent.rmdir()
