"""The whole graph materialized through Dagster with ``[engine] kind = "spark"``: every Spark
stage (ingest, the ALS fits of every stage and fold, candidate top-N, serving, playlists) runs as
``spark-submit`` through Dagster Pipes. The ingest artifacts are the local engine's byte for
byte, every asset reports the metadata keys the local engine reports, the scratch space is
emptied, and the page serves the result: a listener's stored playlist is the one it builds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import pytest

from musicrec_assets_tests.conftest import config_variant
from musicrec_assets_tests.graph import materialize_all

pytestmark = pytest.mark.spark

TINY = {"users": 25, "artists": 90, "tracks": 500, "scrobbles": 4000, "seed": 11}
BYTE_EQUAL = ("user_artist_plays", "interaction_splits")
# a tiny fixture: a few shuffle partitions, not Spark's 200 (README: 2-3 per executor core)
SPARK = """[engine]
kind = "spark"

[engine.spark]
master = "local[2]"
conf = { "spark.sql.shuffle.partitions" = "4" }
"""
SPARK_STAGES = (
    "user_artist_plays",
    "interaction_splits",
    "als_fits",
    "candidates",
    "reranked_topk",
    "playlists",
)


def _materialize(config: Path):
    """Materialize everything; return (artifact folder, {asset: metadata keys}, log lines)."""
    from musicrec_assets.core.config import load_config
    from musicrec_assets.core.generations import current_dir

    instance = dg.DagsterInstance.ephemeral()
    result = materialize_all(config, instance=instance)
    assert result.success
    keys = {
        m.asset_key.to_user_string(): set(m.materialization.metadata)
        for m in result.get_asset_materialization_events()
    }
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    return current_dir(load_config(config).storage_dir), keys, logs


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_spark_engine_builds_every_asset_and_the_page_serves_it(tmp_path_factory):
    from gradio_app.service import PlaylistPage
    from gradio_app.store import ArtifactStore
    from musicrec_assets.core.artifacts import artifact_path
    from musicrec_assets.core.config import load_config
    from musicrec_assets.sample import generate_sample

    base = generate_sample(tmp_path_factory.mktemp("spark_graph"), **TINY)
    root = base.parent
    local, local_keys, _ = _materialize(config_variant(base, root / "local"))
    spark_config = config_variant(base, root / "spark", SPARK)
    spark, spark_keys, logs = _materialize(spark_config)

    for name in BYTE_EQUAL:
        assert _sha(artifact_path(spark, name)) == _sha(artifact_path(local, name)), name
    assert spark_keys.keys() == local_keys.keys()
    for name, keys in local_keys.items():
        if name not in ("model_selection", "generator_models"):  # ALS is not searched on Spark
            assert spark_keys[name] == keys, name
    for stage in SPARK_STAGES:  # each ran as spark-submit: its own log line is in the event log
        assert any(f"Spark stage {stage} done" in m for m in logs), stage
    runs = root / "spark" / "spark" / "runs"
    assert not runs.exists() or not any(runs.iterdir())

    page = PlaylistPage(ArtifactStore(spark), load_config(spark_config).playlist)
    user = page.most_active()
    stored = page.stored_playlist(user)
    built = page.make_playlist(user, length=5)  # not the stored settings: built on the page
    assert stored is not None and stored.stored and stored.error is None and len(stored.playlist)
    assert built.error is None and not built.stored and len(built.playlist) == 5
    new = page.new_listener_playlist(list(page.store.load("reranked_topk")["artist"][:3]))
    assert new.error is None and len(new.playlist)
