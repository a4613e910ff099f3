"""The parameters of the synthetic world: genres and their sound, mess quotas, listener model.

What they mean is told in the package docstring; `mess_quantities` turns the quotas into counts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

# Continuous features carried per artist/track (duration in seconds, modelled on the log scale).
SAMPLE_AUDIO_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_s",
)
_F = {name: i for i, name in enumerate(SAMPLE_AUDIO_FEATURES)}
# name, prevalence, the SAMPLE_AUDIO_FEATURES means, explicit rate, career-age offset (years)
_GENRE_ROWS: tuple[tuple[str, float, tuple[float, ...], float, int], ...] = (
    ("pop", 0.12, (0.68, 0.68, -6.0, 0.07, 0.20, 0.02, 0.15, 0.60, 118, 210), 0.15, 0),
    ("rock", 0.10, (0.50, 0.78, -6.5, 0.05, 0.10, 0.06, 0.18, 0.52, 126, 240), 0.05, 8),
    ("hip hop", 0.08, (0.78, 0.68, -6.5, 0.25, 0.12, 0.01, 0.18, 0.50, 96, 215), 0.60, 0),
    ("r&b", 0.05, (0.70, 0.58, -7.0, 0.10, 0.25, 0.02, 0.15, 0.50, 100, 225), 0.25, 3),
    ("indie", 0.06, (0.55, 0.62, -8.0, 0.05, 0.30, 0.10, 0.15, 0.45, 120, 230), 0.05, 0),
    ("edm", 0.05, (0.68, 0.85, -5.0, 0.07, 0.05, 0.35, 0.20, 0.45, 128, 220), 0.05, 0),
    ("techno", 0.03, (0.70, 0.82, -8.5, 0.06, 0.03, 0.75, 0.12, 0.28, 132, 380), 0.01, 2),
    ("house", 0.04, (0.78, 0.78, -7.0, 0.07, 0.05, 0.50, 0.12, 0.58, 124, 300), 0.02, 2),
    ("metal", 0.05, (0.40, 0.93, -4.5, 0.08, 0.01, 0.15, 0.20, 0.28, 142, 280), 0.10, 6),
    ("punk", 0.03, (0.45, 0.92, -4.5, 0.07, 0.02, 0.02, 0.25, 0.55, 168, 160), 0.15, 8),
    ("jazz", 0.04, (0.55, 0.35, -13.0, 0.05, 0.75, 0.50, 0.15, 0.55, 110, 320), 0.00, 25),
    ("classical", 0.04, (0.30, 0.15, -22.0, 0.04, 0.95, 0.88, 0.12, 0.22, 92, 360), 0.00, 35),
    ("folk", 0.04, (0.52, 0.35, -11.0, 0.04, 0.78, 0.05, 0.13, 0.45, 112, 220), 0.01, 10),
    ("country", 0.04, (0.58, 0.62, -7.0, 0.04, 0.30, 0.01, 0.17, 0.62, 122, 205), 0.02, 8),
    ("latin", 0.05, (0.75, 0.75, -5.5, 0.08, 0.20, 0.02, 0.16, 0.72, 108, 210), 0.12, 0),
    ("reggae", 0.02, (0.78, 0.60, -7.5, 0.12, 0.15, 0.05, 0.18, 0.75, 84, 230), 0.03, 12),
    ("soul", 0.03, (0.62, 0.52, -9.0, 0.05, 0.45, 0.02, 0.16, 0.62, 104, 200), 0.01, 20),
    ("blues", 0.02, (0.52, 0.50, -10.0, 0.05, 0.50, 0.10, 0.20, 0.55, 98, 240), 0.00, 25),
    ("ambient", 0.02, (0.30, 0.18, -20.0, 0.04, 0.80, 0.88, 0.10, 0.15, 74, 330), 0.00, 5),
    ("children's music", 0.01, (0.70, 0.55, -9.0, 0.08, 0.50, 0.02, 0.18, 0.82, 114, 150), 0.0, 5),
    ("k-pop", 0.03, (0.70, 0.78, -4.0, 0.07, 0.12, 0.01, 0.15, 0.62, 122, 205), 0.03, 0),
)
GENRES: tuple[str, ...] = tuple(row[0] for row in _GENRE_ROWS)
_PREVALENCE = np.array([row[1] for row in _GENRE_ROWS]) / sum(row[1] for row in _GENRE_ROWS)
_GENRE_MEAN = np.array([row[2] for row in _GENRE_ROWS], dtype=np.float64)
_GENRE_MEAN[:, _F["duration_s"]] = np.log(_GENRE_MEAN[:, _F["duration_s"]])
_GENRE_EXPLICIT = np.array([row[3] for row in _GENRE_ROWS])
_GENRE_AGE = np.array([row[4] for row in _GENRE_ROWS], dtype=np.float64)
# Spread of the per-artist offset and of a track around its artist, per SAMPLE_AUDIO_FEATURES entry.
_ARTIST_SD = np.array([0.08, 0.08, 1.8, 0.03, 0.10, 0.10, 0.05, 0.10, 12.0, 0.15])
_TRACK_SD = np.array([0.07, 0.07, 1.5, 0.03, 0.08, 0.10, 0.08, 0.09, 8.0, 0.20])
_LOW = np.array([0.05, 0.01, -40.0, 0.022, 0.0, 0.0, 0.02, 0.01, 55.0, np.log(30.0)])
_HIGH = np.array([0.98, 1.0, -0.5, 0.95, 0.996, 1.0, 1.0, 0.99, 210.0, np.log(1200.0)])

# Mess quotas (shares; each kind at least one when the pool allows).
SHARE_LASTFM_ONLY = 0.15
NAMESAKES_PER_ARTIST = 1 / 200
SHARE_VARIANTS: dict[str, float] = {  # of the plain matched artists M
    "case": 0.04,
    "accent": 0.03,
    "the_drop": 0.015,
    "the_add": 0.015,
    "punct": 0.03,
    "whitespace": 0.03,
    "two_spellings": 0.01,
}
SHARE_ACCENT_KEPT = 0.03
SHARE_FORMS: dict[str, float] = {  # of all artists, on names not forced by a variant
    "apostrophe": 0.03,
    "comma": 0.02,
    "ampersand": 0.04,
    "the": 0.05,
    "suffix": 0.06,
    "prefix": 0.05,
    "two_words": 0.30,
}
SHARE_EMPTY_GENRES = 0.25
SHARE_MULTI_ARTIST = 0.08
SHARE_AUDIO_MISSING = 0.03
SHARE_AUDIO_PARTIAL = 0.01
SHARE_TRACK_VARIANTS = 0.03
SHARE_ALT_SPELLING_PLAYS = 0.25

_VARIANT_CODES = {name: i + 1 for i, name in enumerate(SHARE_VARIANTS)}
KIND_MATCHED, KIND_LASTFM_ONLY, KIND_TWIN = 0, 1, 2

# Listener model constants.
_ZIPF_S = 1.0
_POP_EXP = 0.4
_HEAPS_K, _HEAPS_EXP = 2.0, 0.6
_SIGMA_TEMPO, _SIGMA_VALENCE = 12.0, 0.12
_TEMPO_EDGES = np.linspace(60.0, 190.0, 9)
_VALENCE_EDGES = np.linspace(0.0, 1.0, 6)
_ALPHA_TASTE = 1.5  # Dirichlet concentration (times the prevalences)
_DRIFT = 0.25
_EXPLORE_BETA = (1.0, 12.0)
_MIN_SCROBBLES = 10

# The year the scrobble log covers.
_YEAR_START = dt.date(2020, 2, 1)
_YEAR_DAYS = 366
_YEAR_MINUTES = _YEAR_DAYS * 1440


def _quota(pool: int, share: float, minimum: int = 1) -> int:
    """How many of ``pool`` get a mess kind: the share, rounded, at least ``minimum`` if possible."""
    return min(pool, max(minimum, round(share * pool)))


def mess_quantities(artists: int = 600, tracks: int = 6000) -> dict[str, int]:
    """Exact counts of each kind of mess in a sample of these sizes (independent of the seed)."""
    n_lfm = _quota(artists, SHARE_LASTFM_ONLY)
    n_twins = max(2, round(artists * NAMESAKES_PER_ARTIST))
    pool = artists - n_lfm - 2 * n_twins
    out: dict[str, int] = {"lastfm_only_artists": n_lfm, "namesake_pairs": n_twins}
    for name, share in SHARE_VARIANTS.items():  # disjoint sets; 17.5 % of the pool in all
        out[f"variant_{name}"] = _quota(pool, share)
    spotify_artists = artists - n_lfm
    out["spotify_artists"] = spotify_artists
    out["empty_genres"] = _quota(spotify_artists, SHARE_EMPTY_GENRES)
    out["multi_artist_tracks"] = _quota(tracks, SHARE_MULTI_ARTIST)
    out["audio_missing_tracks"] = _quota(tracks, SHARE_AUDIO_MISSING)
    out["audio_partial_tracks"] = _quota(tracks, SHARE_AUDIO_PARTIAL)
    out["track_variants"] = _quota(tracks - spotify_artists, SHARE_TRACK_VARIANTS)
    return out
