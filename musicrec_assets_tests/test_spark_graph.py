"""The ingest group materialized through Dagster with ``[engine] kind = "spark"``: the two
Spark stages run as ``spark-submit`` through Dagster Pipes and their artifacts are the local
engine's byte for byte, with the same metadata keys. About a minute (two Spark jobs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import pytest

from musicrec_assets_tests.conftest import config_variant
from musicrec_assets_tests.test_graph_ingest import INGEST

pytestmark = pytest.mark.spark

TINY = {"users": 25, "artists": 90, "tracks": 500, "scrobbles": 4000, "seed": 11}
STAGES = ("user_artist_plays", "interaction_splits")
SPARK = '[engine]\nkind = "spark"\n\n[engine.spark]\nmaster = "local[2]"\n'


def _materialize(config: Path) -> tuple[dict[str, str], dict[str, set[str]], list[str]]:
    """Run the ingest group; return the SHA-256 of the two stages' artifacts, their metadata
    keys, and the run's log messages."""
    from musicrec_assets.core.artifacts import artifact_path
    from musicrec_assets.core.config import load_config
    from musicrec_assets.defs.resources import build_resources, readable_dir

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(INGEST, resources=build_resources(str(config)), instance=instance)
    assert result.success
    folder = readable_dir(load_config(config).storage_dir, result.run_id)
    hashes = {
        name: hashlib.sha256(artifact_path(folder, name).read_bytes()).hexdigest()
        for name in STAGES
    }
    keys = {
        m.asset_key.to_user_string(): set(m.materialization.metadata)
        for m in result.get_asset_materialization_events()
    }
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    return hashes, keys, logs


def test_spark_engine_ingest_artifacts_equal_the_local_engines(tmp_path_factory):
    from musicrec_assets.sample import generate_sample

    base = generate_sample(tmp_path_factory.mktemp("spark_graph"), **TINY)
    root = base.parent
    local, local_keys, _ = _materialize(config_variant(base, root / "local"))
    spark, spark_keys, logs = _materialize(config_variant(base, root / "spark", SPARK))
    assert spark == local
    for name in STAGES:
        assert spark_keys[name] == local_keys[name], name
    # the stages ran as spark-submit through Pipes: the job's own log lines are in the event log
    assert any("Spark stage user_artist_plays done" in m for m in logs)
    assert any("Spark stage interaction_splits done" in m for m in logs)
    assert not (root / "spark" / "spark" / "runs").exists() or not any(
        (root / "spark" / "spark" / "runs").iterdir()
    )
