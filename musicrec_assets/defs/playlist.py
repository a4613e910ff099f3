"""Playlist group: recommended artists → their tracks → a playlist per listener and context.

The web page reads ``artist_tracks`` and calls the same ``core.playlist`` functions, so a playlist
built on the page is the one this asset stores.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from musicrec_assets.core import catalog, playlist
from musicrec_assets.defs.meta import flat, preview
from musicrec_assets.defs.resources import MusicrecConfig

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


@dg.asset(group_name=GROUP, kinds={"pandas"})
def playlists(
    musicrec: MusicrecConfig,
    reranked_topk: pd.DataFrame,
    interaction_splits: pd.DataFrame,
    artist_catalog: pd.DataFrame,
    artist_vectors: pd.DataFrame,
    artist_tracks: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """A playlist per listener for every context in the config (FinalScore with its parts and a
    reason per track), from the served recommendations and the listener's whole history."""
    cfg = musicrec.load()
    profiles = playlist.artist_profiles(artist_catalog, artist_vectors)
    df = playlist.build_playlists(
        reranked_topk, interaction_splits, profiles, artist_tracks, cfg.playlist
    )
    summary = playlist.playlist_summary(df)
    meta = {**preview(df), "listeners": summary["listeners"], "playlists": summary["playlists"]}
    for name, stats in summary["contexts"].items():
        meta.update(flat(f"{name}/", stats))
    return dg.Output(df, metadata=meta)
