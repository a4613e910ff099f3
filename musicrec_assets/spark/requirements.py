"""What the Spark engine needs on this machine, checked before a run starts (the CLI), so a
missing extra or JDK is one clear message instead of a failed step deep inside a run."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from ..core.config import Config
from ..core.errors import ConfigError


def java_path() -> str | None:
    """The ``java`` Spark's launcher would start: ``$JAVA_HOME/bin/java``, else PATH's."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def missing_requirements() -> list[str]:
    """What is absent for the Spark engine, each with how to install it; empty when ready."""
    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("pyspark is not installed: run `uv sync --extra spark`")
    if java_path() is None:
        missing.append(
            "no Java found (JAVA_HOME or java on PATH): install a JDK 17 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
        )
    return missing


def check_engine(cfg: Config) -> None:
    """Refuse a config whose engine cannot run here (ConfigError naming the file and the fix)."""
    if cfg.engine.kind != "spark":
        return
    missing = missing_requirements()
    if missing:
        raise ConfigError(
            f'{cfg.path}: [engine] kind = "spark" cannot run on this machine: ' + "; ".join(missing)
        )
