"""The marks every Spark test carries: ``spark``, skipped without pyspark or Java."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

spark_required = [
    pytest.mark.spark,
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None,
        reason="pyspark is not installed (uv sync --extra spark)",
    ),
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java on PATH (Spark needs 17)"),
]
