"""The data-quality checks called directly on hand-built frames.

They compare keys as integer codes; the counts in their messages must not depend on whether the
key columns are plain strings, objects or categoricals (each frame with its own, possibly unused,
categories), and a check reads only the columns it checks.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.artifacts import load_artifact, save_artifact
from musicrec_assets.core.config import load_config
from musicrec_assets.defs.asset_checks import checks, playlists_valid, table_problems
from musicrec_assets.defs.resources import MusicrecConfig, build_resources

CHECKS = {c.op.name: c for c in checks}


def _encode(df: pd.DataFrame, how: str, reverse: bool = False) -> pd.DataFrame:
    """``df`` with its key columns as ``str``, ``object`` or categoricals whose categories are in
    another order (``reverse``) and include values absent from the frame."""
    keys = [c for c in ("user", "artist", "context", "track_id") if c in df]
    if how == "object":
        return df.astype(dict.fromkeys(keys, object))
    if how == "category":
        cats = {c: sorted({*df[c].dropna(), f"unused {c}"}, reverse=reverse) for c in keys}
        return df.astype({c: pd.CategoricalDtype(cats[c]) for c in keys})
    return df.astype(dict.fromkeys(keys, "str"))


ENCODINGS = [
    ("str", "str"),
    ("object", "object"),
    ("category", "category"),
    ("category", "str"),
    ("object", "category"),
]


def _describe(check: dg.AssetChecksDefinition, **inputs: pd.DataFrame) -> str:
    (result,) = check(**inputs)
    return result.description


def _splits_and_plays() -> tuple[pd.DataFrame, pd.DataFrame]:
    """ann/x is in the splits only, bob/y in the plays only; cat has no training artist."""
    rows = [
        ("ann", "a", "train"),
        ("ann", "b", "val"),
        ("ann", "c", "test"),
        ("ann", "x", "train"),
        ("bob", "a", "train"),
        ("bob", "d", "test"),
        ("cat", "b", "val"),
    ]
    splits = pd.DataFrame(rows, columns=["user", "artist", "split"]).assign(plays=3)
    plays = pd.DataFrame(
        [(u, a) for u, a, _ in rows if a != "x"] + [("bob", "y")], columns=["user", "artist"]
    ).assign(plays=3)
    return splits, plays


@pytest.mark.parametrize(("splits_as", "plays_as"), ENCODINGS)
def test_splits_check_counts_lost_and_extra_pairs_and_untrained_listeners(splits_as, plays_as):
    splits, plays = _splits_and_plays()
    splits = _encode(splits, splits_as)
    if splits_as == "category":
        splits["split"] = pd.Categorical(splits["split"], categories=["train", "val", "test"])
    got = _describe(
        CHECKS["interaction_splits_valid"],
        df=splits,
        user_artist_plays=_encode(plays, plays_as, reverse=True),
    )
    assert got == (
        "splits do not cover the plays: 1 pairs missing, 1 unknown; "
        "1 listeners have held-out artists but no training ones"
    )


@pytest.mark.parametrize("how", ["str", "object", "category"])
def test_splits_check_passes_when_the_pairs_match_in_another_order(how):
    splits, plays = _splits_and_plays()
    splits = splits[splits["user"] != "cat"]
    plays = splits[["user", "artist", "plays"]].iloc[::-1]
    got = _describe(
        CHECKS["interaction_splits_valid"],
        df=_encode(splits, how),
        user_artist_plays=_encode(plays, "category" if how == "str" else "str", reverse=True),
    )
    assert got == "ok"


@pytest.mark.parametrize("how", ["str", "object", "category"])
def test_duplicate_keys_are_counted_like_pandas_duplicated(how):
    df = pd.DataFrame(
        {
            "user": ["ann", "ann", "bob", None, None, "ann", "ann"],
            "artist": ["a", "a", "a", "a", "a", "b", "a"],
            "plays": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    assert int(df.astype(object).duplicated(["user", "artist"]).sum()) == 3
    got = table_problems(_encode(df, how), ("user", "artist", "plays"), ("user", "artist"), "plays")
    assert got == ["3 rows share a key (user, artist)"]
    assert _describe(CHECKS["user_artist_plays_valid"], df=_encode(df, how)) == got[0]


def _playlists() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One track of an artist not recommended to its listener (bob/c), one not credited to its
    artist (t9), three of one artist in one playlist (cap 2) and one row whose parts do not add
    up."""
    rows = [
        ("ann", "default", "a", "t1"),
        ("ann", "default", "a", "t2"),
        ("ann", "default", "a", "t3"),
        ("ann", "party", "a", "t1"),
        ("ann", "party", "b", "t4"),
        ("bob", "default", "b", "t4"),
        ("bob", "default", "c", "t5"),
        ("bob", "default", "b", "t9"),
    ]
    playlists = pd.DataFrame(rows, columns=["user", "context", "artist", "track_id"]).assign(
        base_part=0.5, tempo_part=0.25, valence_part=0.25, final=1.0
    )
    playlists.loc[4, "final"] = 0.9
    recs = pd.DataFrame(
        [("ann", "a"), ("ann", "b"), ("bob", "b"), ("bob", "a"), ("ann", "a")],
        columns=["user", "artist"],
    )
    tracks = pd.DataFrame(
        [("a", "t1"), ("a", "t2"), ("a", "t3"), ("b", "t4"), ("c", "t5"), ("c", "t9")],
        columns=["artist", "track_id"],
    )
    return playlists, recs, tracks


@pytest.mark.parametrize(("playlists_as", "others_as"), ENCODINGS)
def test_playlist_check_counts(sample_config, playlists_as, others_as):
    playlists, recs, tracks = _playlists()
    (result,) = playlists_valid(
        musicrec=MusicrecConfig(config_path=str(sample_config)),
        playlists=_encode(playlists, playlists_as),
        recs=_encode(recs, others_as, reverse=True),
        tracks=_encode(tracks, others_as),
    )
    assert result.description == (
        "1 tracks of artists not recommended to that listener; "
        "1 tracks not credited to their artist's Spotify id; "
        "1 playlists exceed 2 tracks per artist; "
        "1 rows whose parts do not add up to the final score"
    )
    assert result.metadata["max_tracks_per_artist"].value == 3


def test_checks_read_only_the_columns_they_check(sample_config):
    storage = load_config(sample_config).storage_dir
    table = pd.DataFrame({"user": ["u"], "artist": ["a"], "plays": [1], "spotify_id": ["s"]})
    save_artifact(storage, "user_artist_plays", table)
    manager = build_resources(str(sample_config))["io_manager"]
    op = CHECKS["interaction_splits_valid"].op
    context = dg.build_input_context(
        name="user_artist_plays", op_def=op, asset_key="user_artist_plays"
    )
    assert list(manager.load_input(context).columns) == ["user", "artist"]
    # a column the file lacks is left out (the check then names it); none known: all are read
    got = load_artifact(storage, "user_artist_plays", columns=["user", "listeners"])
    assert list(got.columns) == ["user"]
    assert list(load_artifact(storage, "user_artist_plays", columns=["x"]).columns) == list(table)
    assert np.array_equal(load_artifact(storage, "user_artist_plays")["plays"], table["plays"])
