"""Context playlists: a listener's recommended artists → an ordered, explained list of tracks.

Small steps in the style of ListenBrainz troi, each a plain function from a frame to a frame that
can be tested alone on a few hand-made rows. The batch (:func:`iter_playlists`, the
``playlists`` asset) composes these same functions over chunks of listeners, and the web page's
:func:`build_playlist` is that batch for one listener, so every playlist comes from one path.
In the order the batch runs them (per chunk of listeners):

1. :func:`top_artists` — each listener's best recommended artists (tracks.py);
2. :func:`expand_tracks` — their candidate tracks from :func:`artist_tracks` (tracks.py);
3. :func:`base_scores` — Base, the score min-max normalised per listener (score.py);
4. :func:`group_candidates` — the rows that share a track, a song or an artist (select.py);
5. :func:`listener_targets` — each listener's own tempo/valence (score.py);

then for each context (:func:`context_targets` moves the targets toward the context's):

6. :func:`score_tracks` — the similarities, the weighted parts and ``final`` (score.py);
7. :func:`rank_by_score`, :func:`dedupe`, :func:`cap_per_artist`, :func:`take_top` — the
   playlist's content (select.py);
8. :func:`tempo_smooth` (if configured), :func:`spread_artists`, :func:`number_tracks` — its
   order (order.py);

and once for all contexts of the chunk:

9. :func:`because_artists` — the listener's artist that explains each row (reasons.py);
10. :func:`add_reasons` — the text a person reads (reasons.py).

Steps read key columns as strings, or at no cost as categoricals with sorted categories or
integer codes (keys.py); the batch hands them categoricals over the whole vocabulary, so no step
hashes a string, and computes what no context changes once per chunk (steps 1-5, the track
index, the artist space). :mod:`.summary` and :mod:`.export` read the finished table.

It replaces the seed notebook's playlist stage (docs/architecture.md, "What the seed project got
wrong"):

- tracks come from the recommended artist's *Spotify id* among each track's credited ids (a
  featured credit counts), never from a regex substring of names ("Gala" never finds Sigala);
- the listener's tempo/valence profile is play-weighted (log1p plays) over their own artists, so
  listeners differ, and a context moves that profile toward its own target instead of replacing it;
- the final score is always ``w_base·Base + w_tempo·Tempo_sim + w_valence·Valence_sim`` with Base
  min-max normalised per listener, and every playlist row carries its parts so the page shows the
  same numbers the batch asset stores.

Missing audio values: a track (or a listener target) without tempo or valence gets the neutral
similarity 0.5 for that part, neither rewarded nor punished, so it can still be chosen on its
recommendation score; the seed sorted such tracks last.
"""

from __future__ import annotations

from .batch import (
    CHUNK_USERS,
    ENCODED_COLUMNS,
    PLAYLIST_COLUMNS,
    build_playlist,
    build_playlists,
    empty_playlists,
    iter_playlists,
)
from .export import to_csv, to_m3u, to_xspf, track_uri
from .order import number_tracks, spread_artists, tempo_smooth
from .reasons import (
    BECAUSE_TOP_K,
    GENRE_WEIGHT,
    SIMILARITY_FEATURES,
    SIMILARITY_SCALES,
    ArtistSpace,
    add_reasons,
    artist_space,
    because_artists,
)
from .score import (
    BASE_IF_EQUAL,
    NEUTRAL_SIM,
    TEMPO_SCALE,
    artist_profiles,
    base_scores,
    context_targets,
    listener_targets,
    score_tracks,
)
from .select import (
    GROUP_COLUMNS,
    cap_per_artist,
    dedupe,
    group_candidates,
    rank_by_score,
    take_top,
)
from .summary import PlaylistSummary, playlist_summary
from .tracks import (
    TRACK_TABLE_COLUMNS,
    TrackIndex,
    artist_tracks,
    expand_tracks,
    normalise_titles,
    top_artists,
    track_index,
)

__all__ = [
    "BASE_IF_EQUAL",
    "BECAUSE_TOP_K",
    "CHUNK_USERS",
    "ENCODED_COLUMNS",
    "GENRE_WEIGHT",
    "GROUP_COLUMNS",
    "NEUTRAL_SIM",
    "PLAYLIST_COLUMNS",
    "SIMILARITY_FEATURES",
    "SIMILARITY_SCALES",
    "TEMPO_SCALE",
    "TRACK_TABLE_COLUMNS",
    "ArtistSpace",
    "PlaylistSummary",
    "TrackIndex",
    "add_reasons",
    "artist_profiles",
    "artist_space",
    "artist_tracks",
    "base_scores",
    "because_artists",
    "build_playlist",
    "build_playlists",
    "cap_per_artist",
    "context_targets",
    "dedupe",
    "empty_playlists",
    "expand_tracks",
    "group_candidates",
    "iter_playlists",
    "listener_targets",
    "normalise_titles",
    "number_tracks",
    "playlist_summary",
    "rank_by_score",
    "score_tracks",
    "spread_artists",
    "take_top",
    "tempo_smooth",
    "to_csv",
    "to_m3u",
    "to_xspf",
    "top_artists",
    "track_index",
    "track_uri",
]
