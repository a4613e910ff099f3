"""The Spark engine's ingest stage equals the local engine's: the same (listener, artist) rows
with the same plays, play times and Spotify ids, and every row in the same split, for the
temporal and the seeded random method. Runs a ``local[2]`` session (about 10 s to start)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.spark

TINY = {"users": 25, "artists": 90, "tracks": 500, "scrobbles": 4000, "seed": 11}


@pytest.fixture(scope="module")
def local_ingest(tmp_path_factory: pytest.TempPathFactory):
    """The local engine's listens, catalogue and plays of a tiny sample, the first two also as
    the Parquet files the Spark stage reads."""
    from musicrec_assets.core import catalog
    from musicrec_assets.core.artifacts import write_parquet
    from musicrec_assets.core.config import load_config
    from musicrec_assets.core.readers import read_artists, read_listens, read_tracks
    from musicrec_assets.sample import generate_sample

    root = tmp_path_factory.mktemp("spark_sample")
    cfg = load_config(generate_sample(root, **TINY))
    listens, _ = read_listens(cfg.sources.listens)
    tracks, _ = read_tracks(cfg.sources.tracks)
    artists, _ = read_artists(cfg.sources.artists)
    vectors, _ = catalog.build_artist_vectors(tracks, artists, name_keyed=cfg.tracks_keyed_by_name)
    cat, _ = catalog.build_artist_catalog(listens, vectors)
    plays, _ = catalog.build_user_artist_plays(listens, cat)
    write_parquet(listens, root / "listens.parquet")
    write_parquet(cat, root / "artist_catalog.parquet")
    write_parquet(plays, root / "user_artist_plays.parquet")
    return root, listens, plays


def _artifact_hash(folder: Path, name: str, df: pd.DataFrame) -> str:
    """SHA-256 of ``df`` written as asset ``name``'s artifact (``core.artifacts.save_artifact``)."""
    from musicrec_assets.core.artifacts import save_artifact

    return hashlib.sha256(save_artifact(folder, name, df).read_bytes()).hexdigest()


def _values(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The table's values with categoricals as their strings, sorted by (user, artist)."""
    out = df[columns].copy()
    for col in columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out.sort_values(["user", "artist"], ignore_index=True)


def _same(spark_df: pd.DataFrame, local_df: pd.DataFrame, columns: list[str]) -> None:
    ours, theirs = _values(spark_df, columns), _values(local_df, columns)
    assert len(ours) == len(theirs)
    for col in columns:
        a, b = ours[col], theirs[col]
        if col in ("user", "artist", "split", "spotify_id"):
            a = a.astype(object).where(a.notna(), None)
            b = b.astype(object).where(b.notna(), None)
        pd.testing.assert_series_equal(a, b, check_dtype=False, check_names=False, obj=col)


def test_user_artist_plays_equal_the_local_engines(spark, local_ingest, tmp_path):
    from musicrec_assets.core.artifacts import read_parquet
    from musicrec_assets.spark.ingest import user_artist_plays
    from musicrec_assets.spark.io import plays_frame, read_frame

    root, listens, plays = local_ingest
    counts = user_artist_plays(
        spark, root / "listens.parquet", root / "artist_catalog.parquet", tmp_path / "plays"
    )
    got = read_frame(tmp_path / "plays")
    assert counts == {
        "rows_in": len(listens),
        "rows_out": len(plays),
        "listens_without_catalogue_entry": 0,
    }
    assert plays["spotify_id"].notna().any() and plays["spotify_id"].isna().any()
    cols = ["user", "artist", "plays", "first_played", "last_played", "spotify_id", "has_spotify"]
    _same(got, plays, cols)
    # The artifact: the catalogue as the asset reads it (from its artifact) fixes the dictionaries.
    framed = plays_frame(tmp_path / "plays", read_parquet(root / "artist_catalog.parquet"))
    name = "user_artist_plays"
    assert _artifact_hash(tmp_path / "spark", name, framed) == _artifact_hash(
        tmp_path / "local", name, plays
    )


@pytest.mark.parametrize(
    ("method", "seed", "min_artists"), [("auto", 42, 5), ("random", 42, 5), ("random", 3, 12)]
)
def test_interaction_splits_equal_the_local_engines(
    spark, local_ingest, tmp_path, method, seed, min_artists
):
    """Every listener's rows land in the same split; the random method with the same seed too
    (and another seed moves some, so the test would notice a seed ignored)."""
    from musicrec_assets.core.artifacts import read_parquet
    from musicrec_assets.core.splits import split_interactions
    from musicrec_assets.spark.ingest import interaction_splits
    from musicrec_assets.spark.io import read_frame, splits_frame

    root, _, _ = local_ingest
    plays = read_parquet(root / "user_artist_plays.parquet")  # as the asset gets its input
    kwargs = {"method": method, "val": 0.1, "test": 0.2, "min_artists": min_artists, "seed": seed}
    expected, local_method = split_interactions(plays, **kwargs)
    used = interaction_splits(
        spark,
        root / "user_artist_plays.parquet",
        tmp_path / "splits",
        scratch_dir=tmp_path / "scratch",
        **kwargs,
    )
    got = read_frame(tmp_path / "splits")
    assert used == local_method == ("temporal" if method == "auto" else "random")
    assert set(expected["split"]) == {"train", "val", "test"}
    cols = ["user", "artist", "plays", "split", "first_played", "last_played", "spotify_id"]
    _same(got, expected, cols)
    assert list(got.columns)[:6] == cols[:4] + cols[4:6]
    name = "interaction_splits"
    assert _artifact_hash(tmp_path / "spark", name, splits_frame(tmp_path / "splits", plays)) == (
        _artifact_hash(tmp_path / "local", name, expected)
    )
    if method == "random":
        other, _ = split_interactions(plays, **{**kwargs, "seed": seed + 1})
        assert not other["split"].equals(expected["split"])
