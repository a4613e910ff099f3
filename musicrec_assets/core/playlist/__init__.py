"""Context playlists: a listener's recommended artists → an ordered, explained list of tracks.

PLACEHOLDER
"""

from __future__ import annotations

from .batch import (
    CHUNK_USERS,
    ENCODED_COLUMNS,
    PLAYLIST_COLUMNS,
    WORKERS,
    build_playlist,
    build_playlists,
    empty_playlists,
    iter_playlists,
)
from .export import to_csv, to_m3u, to_xspf, track_uri
from .order import spread_artists, tempo_smooth
from .reasons import (
    BECAUSE_TOP_K,
    GENRE_WEIGHT,
    SIMILARITY_FEATURES,
    SIMILARITY_SCALES,
    add_reasons,
    because_artists,
)
from .score import (
    NEUTRAL_SIM,
    TEMPO_SCALE,
    artist_profiles,
    context_targets,
    listener_targets,
    score_tracks,
)
from .select import _by_score, cap_per_artist, dedupe, take_top
from .summary import PlaylistSummary, playlist_summary
from .tracks import TRACK_TABLE_COLUMNS, artist_tracks, expand_tracks, normalise_titles

__all__ = [
    "BECAUSE_TOP_K",
    "CHUNK_USERS",
    "ENCODED_COLUMNS",
    "GENRE_WEIGHT",
    "NEUTRAL_SIM",
    "PLAYLIST_COLUMNS",
    "SIMILARITY_FEATURES",
    "SIMILARITY_SCALES",
    "TEMPO_SCALE",
    "TRACK_TABLE_COLUMNS",
    "WORKERS",
    "PlaylistSummary",
    "_by_score",
    "add_reasons",
    "artist_profiles",
    "artist_tracks",
    "because_artists",
    "build_playlist",
    "build_playlists",
    "cap_per_artist",
    "context_targets",
    "dedupe",
    "empty_playlists",
    "expand_tracks",
    "iter_playlists",
    "listener_targets",
    "normalise_titles",
    "playlist_summary",
    "score_tracks",
    "spread_artists",
    "take_top",
    "tempo_smooth",
    "to_csv",
    "to_m3u",
    "to_xspf",
    "track_uri",
]
