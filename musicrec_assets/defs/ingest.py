"""Ingest group: source files → canonical tables → artist vectors, catalogue, plays and splits."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from musicrec_assets.core import catalog, readers, splits
from musicrec_assets.core.config import Config, SourceConfig
from musicrec_assets.core.schema import SPOTIFY_ARTIST_COLUMNS, SPOTIFY_TRACK_COLUMNS
from musicrec_assets.defs.meta import counts_metadata, flat, preview
from musicrec_assets.defs.resources import MusicrecConfig, input_path

GROUP = "ingest"


def _read(reader, src: SourceConfig | None, empty_columns: tuple[str, ...]) -> dg.Output:
    if src is None:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in empty_columns})
        return dg.Output(df, metadata={**preview(df), "source": "not configured"})
    df, report = reader(src)
    return dg.Output(df, metadata={**counts_metadata(report), **preview(df)})


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def listens(musicrec: MusicrecConfig) -> dg.Output[pd.DataFrame]:
    """Canonical listening log: one row per scrobble (or per play-count row) from the listens source."""
    return _read(readers.read_listens, musicrec.load().sources.listens, ())


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def spotify_tracks(musicrec: MusicrecConfig) -> dg.Output[pd.DataFrame]:
    """Canonical Spotify tracks with credited artist ids and audio features."""
    return _read(readers.read_tracks, musicrec.load().sources.tracks, SPOTIFY_TRACK_COLUMNS)


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def spotify_artists(musicrec: MusicrecConfig) -> dg.Output[pd.DataFrame]:
    """Canonical Spotify artists with genres (and audio means for per-artist sources)."""
    return _read(readers.read_artists, musicrec.load().sources.artists, SPOTIFY_ARTIST_COLUMNS)


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def artist_vectors(
    musicrec: MusicrecConfig, spotify_tracks: pd.DataFrame, spotify_artists: pd.DataFrame
) -> dg.Output[pd.DataFrame]:
    """Per Spotify artist: audio profile over every credited track and genres ranked by share."""
    tracks_src = musicrec.load().sources.tracks
    name_keyed = tracks_src is not None and tracks_src.format == "spotify_track_table"
    df, counts = catalog.build_artist_vectors(
        spotify_tracks, spotify_artists, name_keyed=name_keyed
    )
    return dg.Output(df, metadata={**counts_metadata(counts), **preview(df)})


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def artist_catalog(listens: pd.DataFrame, artist_vectors: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Every source artist name resolved to at most one Spotify artist, with the kind of match."""
    df, counts = catalog.build_artist_catalog(listens, artist_vectors)
    by_kind = (
        df.groupby("match")["plays"]
        .agg(["size", "sum"])
        .rename(columns={"size": "names", "sum": "plays"})
    )
    md = by_kind.reset_index().to_markdown(index=False)
    return dg.Output(
        df,
        metadata={
            **counts_metadata(counts),
            "matches_by_kind": dg.MetadataValue.md(md),
            **preview(df.sort_values("plays", ascending=False)),
        },
    )


def _split_kwargs(cfg: Config) -> dict:
    s = cfg.split
    seed = cfg.seed if s.seed is None else s.seed
    return {
        "method": s.method,
        "val": s.val,
        "test": s.test,
        "min_artists": s.min_artists,
        "seed": seed,
    }


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def user_artist_plays(
    context,
    musicrec: MusicrecConfig,
    listens: pd.DataFrame,
    artist_catalog: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """Listener × artist plays with first/last play time; unmatched artists kept and flagged."""
    cfg = musicrec.load()
    if cfg.engine.kind == "spark":
        from musicrec_assets.spark import io, launch

        paths = {name: input_path(context, cfg, name) for name in ("listens", "artist_catalog")}
        extras = {"listens": paths["listens"], "catalog": paths["artist_catalog"]}
        out, figures = launch.run_stage(context, cfg.engine.spark, "user_artist_plays", extras)
        df = io.plays_frame(out, artist_catalog)
        counts = catalog.plays_counts(
            df,
            artist_catalog,
            rows_in=int(figures["rows_in"]),
            missing=int(figures["listens_without_catalogue_entry"]),
        )
        launch.remove_output(out)
    else:
        df, counts = catalog.build_user_artist_plays(listens, artist_catalog)
    return dg.Output(df, metadata={**counts_metadata(counts), **preview(df)})


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def interaction_splits(
    context, musicrec: MusicrecConfig, user_artist_plays: pd.DataFrame
) -> dg.Output[pd.DataFrame]:
    """Per-listener train/val/test split (temporal when timestamps exist)."""
    cfg = musicrec.load()
    if cfg.engine.kind == "spark":
        from musicrec_assets.spark import io, launch

        extras = {
            "plays": input_path(context, cfg, "user_artist_plays"),
            "split": _split_kwargs(cfg),
        }
        out, figures = launch.run_stage(context, cfg.engine.spark, "interaction_splits", extras)
        df, method = io.splits_frame(out, user_artist_plays), str(figures["method"])
        launch.remove_output(out)
    else:
        df, method = splits.split_interactions(user_artist_plays, **_split_kwargs(cfg))
    per_split = df.groupby("split").agg(pairs=("artist", "size"), listeners=("user", "nunique"))
    stats = {"method": method}
    for name, row in per_split.iterrows():
        stats[f"{name}_pairs"] = int(row["pairs"])
        stats[f"{name}_listeners"] = int(row["listeners"])
    stats["train_only_listeners"] = int(
        df["user"].nunique() - df.loc[df["split"] != "train", "user"].nunique()
    )
    return dg.Output(df, metadata={**flat("", stats), **preview(df)})
