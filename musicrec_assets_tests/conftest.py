"""Shared fixtures: a small generated sample and its config, isolated from the user's state;
the Spark tests' session and world, and the one rule that skips or fails them (marker ``spark``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never touch the developer's .musicrec or DAGSTER_HOME from a test."""
    home = tmp_path_factory.getbasetemp() / "musicrec_home"
    monkeypatch.setenv("MUSICREC_HOME", str(home))
    monkeypatch.delenv("MUSICREC_CONFIG", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


SMALL = {"users": 80, "artists": 200, "tracks": 1500, "scrobbles": 20_000, "seed": 7}


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config path of a small generated sample (session-wide; treat as read-only)."""
    from musicrec_assets.sample import generate_sample

    return generate_sample(tmp_path_factory.mktemp("sample"), **SMALL)


def config_variant(base: Path, storage: Path, extra: str = "", seed: int | None = None) -> Path:
    """A sibling of config ``base`` writing artifacts to ``storage`` (plus extra TOML sections,
    and another seed if given)."""
    import re

    text = base.read_text()
    text, n = re.subn(r"(?m)^dir\s*=.*$", f'dir = "{storage.as_posix()}"', text, count=1)
    assert n == 1, "the sample config has no [storage] dir line"
    if seed is not None:
        text, n = re.subn(r"(?m)^seed\s*=.*$", f"seed = {seed}", text, count=1)
        assert n == 1, "the sample config has no top-level seed line"
    path = base.parent / f"musicrec-{storage.name}-{abs(hash(str(storage))) % 10**8}.toml"
    path.write_text(text + "\n" + extra)
    return path


@pytest.fixture
def sample_config(small_sample: Path, tmp_path: Path) -> Path:
    """The small sample's config with artifacts in this test's own folder."""
    return config_variant(small_sample, tmp_path / "derived")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``spark`` need the spark extra and Java: skipped without them on a
    developer's machine, failed where ``MUSICREC_REQUIRE_SPARK`` is set (CI), so a suite cannot
    stay green there without running them."""
    if item.get_closest_marker("spark") is None:
        return
    from musicrec_assets.spark.requirements import missing_requirements

    missing = missing_requirements()
    if not missing:
        return
    reason = "; ".join(missing)
    if os.environ.get("MUSICREC_REQUIRE_SPARK"):
        pytest.fail(f"Spark tests required but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A ``local[2]`` session per module (about 10 s to start)."""
    from musicrec_assets.core.config import SparkConfig
    from musicrec_assets_tests.spark_support import open_session

    scratch = tmp_path_factory.mktemp("spark_scratch")
    conf = {"spark.sql.shuffle.partitions": "4"}  # tiny fixtures: not Spark's 200 partitions
    with open_session(SparkConfig(master="local[2]", scratch_dir=scratch, conf=conf)) as session:
        yield session


@pytest.fixture(scope="module")
def spark_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A synthetic world's splits, also as the Parquet file the Spark fit reads."""
    from musicrec_assets_tests.spark_support import write_world

    root = tmp_path_factory.mktemp("spark_als")
    return root, write_world(root)
