"""Canonical column sets shared by readers, assets, checks and tests."""

from __future__ import annotations

# Audio features of a Spotify track (and, averaged, of an artist).
AUDIO_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
    "time_signature",
)

# `listens`: one row per scrobble (count 1) or per (user, artist) play count from a counts source.
# user: str, artist_name: str (as the source spells it), track: str | null, plays: int64 > 0,
# played_at: timestamp[UTC] | null (null for play-count sources).
LISTENS_COLUMNS: tuple[str, ...] = ("user", "artist_name", "track", "plays", "played_at")

# `spotify_tracks`: one row per track. artist_ids / artist_names: list[str] of credited artists, in
# credit order (ids are Spotify ids, or the artist name for sources keyed by name).
SPOTIFY_TRACK_COLUMNS: tuple[str, ...] = (
    "track_id",
    "track_name",
    "artist_ids",
    "artist_names",
    "popularity",
    "explicit",
    "release_year",
    *AUDIO_FEATURES,
)

# `spotify_artists`: one row per artist id. genres: list[str] (source order); audio columns are
# filled only by per-artist sources (spotify_artist_table), NaN otherwise; n_tracks likewise.
SPOTIFY_ARTIST_COLUMNS: tuple[str, ...] = (
    "artist_id",
    "artist_name",
    "genres",
    "popularity",
    "followers",
    "n_tracks",
    *AUDIO_FEATURES,
)

SPLITS = ("train", "val", "test")
