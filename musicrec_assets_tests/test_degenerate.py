"""Data that is valid to read but useless to model ends in a clear, named failure, never in a
stack trace from deep inside a library or a silently empty output."""

from __future__ import annotations

import numpy as np
import pytest

from musicrec_assets_tests.graph import materialize_all

pytestmark = pytest.mark.slow


def _config(tmp_path, small_sample, rows):
    (tmp_path / "plays.csv").write_text(
        "user,artist,plays\n" + "".join(f"{u},{a},{p}\n" for u, a, p in rows)
    )
    spotify = small_sample.parent / "spotify"
    cfg = tmp_path / "musicrec.toml"
    cfg.write_text(
        'seed = 1\n[storage]\ndir = "derived"\n'
        '[sources.listens]\nformat = "plays_table"\npath = "plays.csv"\n'
        f'[sources.tracks]\nformat = "spotify_600k_tracks"\npath = "{spotify / "tracks.csv"}"\n'
        f'[sources.artists]\nformat = "spotify_600k_artists"\npath = "{spotify / "artists.csv"}"\n'
    )
    return cfg


def _failed_checks(result):
    return {
        c.check_name: c.description for c in result.get_asset_check_evaluations() if not c.passed
    }


def test_every_listener_unmatched_models_but_says_no_playlist_could_be_built(
    tmp_path, small_sample
):
    rng = np.random.default_rng(0)
    rows = [
        (f"u{u}", f"Nobody Knows {a}", int(rng.integers(1, 30)))
        for u in range(40)
        for a in rng.choice(60, 12, replace=False)
    ]
    result = materialize_all(_config(tmp_path, small_sample, rows))
    failed = _failed_checks(result)
    assert "0.0% of plays" in failed["artist_catalog_match_coverage"]
    assert "no playlist could be built" in failed["playlists_valid"]
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "reranked_topk" in done  # collaborative signal still serves artist recommendations


@pytest.mark.parametrize("case", ["one_artist", "short_histories"])
def test_nothing_to_validate_stops_at_the_split_check(tmp_path, small_sample, case):
    if case == "one_artist":
        rows = [(f"u{u}", "Only One", 3) for u in range(30)]
    else:
        rows = [(f"u{u}", f"Band {a}", 2) for u in range(30) for a in range(u % 4 + 1)]
    result = materialize_all(_config(tmp_path, small_sample, rows))
    assert not result.success
    failed = _failed_checks(result)
    assert "no listener has validation and test artists" in failed["interaction_splits_valid"]
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "als_model" not in done
