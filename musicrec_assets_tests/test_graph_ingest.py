"""The ingest half of the graph, materialized in-process on a small generated sample."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from musicrec_assets.core import generations
from musicrec_assets.core.artifacts import load_artifact
from musicrec_assets.core.config import load_config
from musicrec_assets.defs import asset_checks, ingest
from musicrec_assets.defs.resources import build_resources

INGEST = [
    ingest.listens,
    ingest.spotify_tracks,
    ingest.spotify_artists,
    ingest.artist_vectors,
    ingest.artist_catalog,
    ingest.user_artist_plays,
    ingest.interaction_splits,
]


def test_ingest_graph_materializes_with_metadata_and_passing_checks(sample_config):
    result = dg.materialize(
        [*INGEST, *asset_checks.checks, asset_checks.artist_catalog_match_coverage],
        resources=build_resources(str(sample_config)),
    )
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert all(checks.values()), checks
    assert len(checks) == len(asset_checks.checks) + 1

    mats = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    assert mats["artist_catalog"]["plays_matched_share"].value > 0.5
    assert mats["listens"]["rows_out"].value > 0
    assert mats["interaction_splits"]["method"].text == "temporal"

    storage = load_config(sample_config).storage_dir
    assert not (storage / "interaction_splits.parquet").exists()  # written, not yet published
    assert generations.publish(storage, result.run_id)
    splits = load_artifact(storage, "interaction_splits")
    plays = load_artifact(storage, "user_artist_plays")
    assert list(splits.columns[:4]) == ["user", "artist", "plays", "split"]
    assert set(splits["split"]) == {"train", "val", "test"}
    assert len(splits) == len(plays)
    # unmatched artists keep their collaborative signal
    assert (~plays["has_spotify"]).any()
    catalog = load_artifact(storage, "artist_catalog")
    assert {"exact", "normalised", "ambiguous", "none"} <= set(catalog["match"])
    assert isinstance(splits, pd.DataFrame)
