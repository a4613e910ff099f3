"""Playlist group: recommended artists → their tracks → a playlist per listener and context.

The web page reads ``artist_tracks`` and calls the same ``core.playlist`` functions, so a playlist
built on the page is the one this asset stores.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from musicrec_assets.core import catalog, playlist
from musicrec_assets.core.artifacts import ARTIFACTS, artifact_path, write_parquet_chunks
from musicrec_assets.defs.meta import flat, preview
from musicrec_assets.defs.resources import MusicrecConfig, input_path, read_only, writable_dir

HISTORY_COLUMNS = ("user", "artist", "plays")

GROUP = "playlist"


@dg.asset(group_name=GROUP, kinds={"pandas"})
def artist_tracks(
    musicrec: MusicrecConfig,
    artist_catalog: pd.DataFrame,
    spotify_tracks: pd.DataFrame,
    spotify_artists: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """Candidate tracks per artist key, matched by Spotify artist id on every credit (never by
    name substring), one version per song, the most popular first."""
    cfg = musicrec.load()
    credits = catalog.track_credits(
        spotify_tracks, spotify_artists, name_keyed=cfg.tracks_keyed_by_name
    )
    df = playlist.artist_tracks(
        artist_catalog, spotify_tracks, cfg.playlist.tracks_per_artist, credits=credits
    )
    artists = artist_catalog.dropna(subset=["spotify_id"])["artist"].nunique()
    return dg.Output(
        df,
        metadata={
            **preview(df),
            "artists_with_tracks": int(df["artist"].nunique()),
            "matched_artists": int(artists),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"pandas"},
    op_tags=read_only(
        {"reranked_topk": ("user", "artist", "score"), "interaction_splits": HISTORY_COLUMNS}
    ),
)
def playlists(
    context,
    musicrec: MusicrecConfig,
    reranked_topk: pd.DataFrame,
    interaction_splits: pd.DataFrame,
    artist_catalog: pd.DataFrame,
    artist_vectors: pd.DataFrame,
    artist_tracks: pd.DataFrame,
) -> dg.MaterializeResult:
    """A playlist per listener for every context in the config (FinalScore with its parts and a
    reason per track), from the served recommendations and the listener's whole history.

    Written chunk by chunk of listeners straight to the artifact (keys dictionary-encoded): at
    Last.fm-360K scale the table has 36M rows, more than the memory budget holds at once.
    """
    cfg = musicrec.load()
    if cfg.engine.kind == "spark":
        from musicrec_assets.spark import engine

        upstream = (
            "reranked_topk",
            "interaction_splits",
            "artist_catalog",
            "artist_vectors",
            "artist_tracks",
        )
        paths = {name: input_path(context, cfg, name) for name in upstream}
        chunks = engine.iter_playlists(context, cfg, paths, str(musicrec.path()))
    else:
        chunks = playlist.iter_playlists(
            reranked_topk,
            interaction_splits,
            playlist.artist_profiles(artist_catalog, artist_vectors),
            artist_tracks,
            cfg.playlist,
            workers=cfg.num_threads,
        )
    summary = playlist.PlaylistSummary()
    folder = writable_dir(cfg.storage_dir, context.run.run_id, dict(context.run.tags))
    path = artifact_path(folder, "playlists")
    rows = write_parquet_chunks(
        summary.observe(chunks),
        path,
        empty=playlist.empty_playlists(),
        dictionary=playlist.ENCODED_COLUMNS,
        row_group_size=ARTIFACTS["playlists"].row_group_rows,
    )
    result = summary.result()
    meta = {
        **preview(summary.head),
        "dagster/row_count": dg.MetadataValue.int(rows),
        "path": dg.MetadataValue.path(str(path)),
        "listeners": result["listeners"],
        "playlists": result["playlists"],
    }
    for name, stats in result["contexts"].items():
        meta.update(flat(f"{name}/", stats))
    return dg.MaterializeResult(metadata=meta)
