"""Deterministic synthetic data in the seed's Kaggle layouts, with learnable taste and real-data mess.

``generate_sample(out_dir)`` writes ``lastfm/Last.fm_data.csv`` (one row per scrobble),
``spotify/tracks.csv``, ``spotify/artists.csv`` (the "Spotify 600k" layouts) and ``musicrec.toml``.
Same sizes + seed give byte-identical files. Everything is vectorised numpy/pyarrow (no loop over rows,
users or artists), so ``scrobbles=20_000_000`` works; memory stays bounded because listeners are
simulated and written in chunks.

Generative model
----------------
* 21 genres (``GENRES``), each with a prevalence and a mean audio profile (tempo, valence, energy,
  danceability, acousticness, instrumentalness, speechiness, loudness, liveness, duration, explicit
  rate). Artist ``a`` (0 = most popular) has Zipf weight ``(a + 1) ** -1``; popularity 0-100 and
  followers follow that weight (with noise).
* Each artist has 1-3 genres (45/35/20 %): a main one drawn by prevalence, the others drawn among
  genres with a similar sound; the main genre weighs 0.55-0.8. Its audio centre is the weighted mix of
  its genres' profiles plus a per-artist offset (tempo sd 12 BPM, valence sd 0.10, ...). Its tracks
  scatter around that centre (tempo sd 8 BPM); tempo stays in 55-210 BPM, valence in 0-1.
* Track counts per artist are heavy-tailed (more for popular artists, at least 1); inside an artist,
  track ``k`` in popularity order is played with weight ``(k + 1) ** -0.9``.
* Listener ``u``: genre taste ``theta0 ~ Dirichlet(1.5 * prevalence)`` (one to three favourite
  genres; the top one holds ~57 % on average), a tempo and a valence target (the taste-weighted genre
  means plus a personal offset, sd 10 BPM / 0.08) and an exploration share ``eps ~ Beta(1, 12)``.
  Over the year the taste drifts linearly to ``theta1 = 0.75 * theta0 + 0.25 * Dirichlet(...)``
  (targets move with it, plus noise).
* Activity is heavy-tailed: scrobbles per listener ~ lognormal(sigma 1.1), at least 10 (fewer only
  if ``scrobbles < 10 * users``). A listener with ``s`` scrobbles knows
  ``n = min(s, ceil(K * s ** 0.6), 0.9 * playable artists)`` artists (Heaps' law; ``K = 2`` unless
  ``pairs`` asks for a total, then ``K`` is solved for it).
* Library, in discovery order: with probability ``eps`` a mainstream pick (weight = Zipf weight);
  otherwise a genre drawn from the taste at that point of the year, then an artist of that genre
  with weight ``zipf ** 0.4 * genre_weight * exp(-((tempo - t) / 12) ** 2 / 2 - ((valence - v) /
  0.12) ** 2 / 2)`` for the listener's current targets ``(t, v)`` (binned: 8 tempo x 5 valence bins).
  So popularity, genre affinity and audio fit all matter, and content features identify tail
  artists that few listeners share. Draws are successive sampling without replacement (repeats are
  skipped; listeners whose taste runs out of new artists explore more widely in catch-up rounds and
  may end a few artists short). Discovery times are sorted uniform times over the year, so early
  discoveries are the likeliest (popular, on-taste) artists and late ones reach into the tail.
* Plays: each library artist gets its first scrobble at its discovery time; the remaining ``s - n``
  scrobbles go to the listener's artists with weight ``(discovery rank + 1) ** -0.8 * (1.05 - tau)``
  at times between discovery and the year's end (skewed towards discovery), minute resolution. Each
  scrobble plays a track of the artist chosen by the track weights above. The temporal split (latest
  20 % of a listener's artists by first play = test) thus holds the most drifted, least obvious part
  of each taste. Measured on the default sample (recall@10 on that split): popularity 0.09,
  item kNN 0.16, genre x audio-fit content model 0.15, untuned implicit ALS 0.11-0.12, the true
  generative probabilities 0.30.

Files
-----
* ``Last.fm_data.csv``: unnamed index column, ``Username,Artist,Track,Album,Date,Time``; Date like
  ``31 Jan 2021`` (day zero-padded: ``01 Feb 2020``), Time ``23:36`` (UTC). The year runs from
  01 Feb 2020 to 31 Jan 2021. Rows are grouped by listener (in generation order, not sorted by name)
  and newest first inside a listener, as Last.fm exports them.
* ``plays.parquet`` (only with ``listens="plays_table"`` or ``"both"``): the same scrobbles as a
  Last.fm-360K-style play-count table, ``user, artist, plays`` (string, string, int64), one row per
  listener and Last.fm spelling, grouped by listener like the log; no timestamps.
* ``tracks.csv``: ``id,name,popularity,duration_ms,explicit,artists,id_artists,release_date,
  danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,
  tempo,time_signature``; ``artists``/``id_artists`` are Python list reprs (``['Name']``, a name with an
  apostrophe is ``["Guns N' Roses"]`` exactly as ``repr`` writes it); ids are 22-char base62;
  release_date ``YYYY-MM-DD`` (85 %) or ``YYYY``. Rows in random order. Exactly ``tracks`` rows.
* ``artists.csv``: ``id,followers,genres,name,popularity`` (genres a list repr, often ``[]``).
  CSV quoting is minimal (only cells with a comma or a quote), UTF-8 without BOM, ``\\n`` line ends.

Mess (exact counts by construction; :func:`mess_quantities` returns them for given sizes)
-----------------------------------------------------------------------------------------------
Let ``A = artists``, ``L = round(0.15 A)`` Last.fm-only artists, ``N = max(2, round(A / 200))``
namesake pairs, ``M = A - L - 2N`` plain matched artists (the pool for the name variants; at least 1
artist per kind):

* ``L`` artists (15 %, drawn towards the popularity tail) are on Last.fm only: no Spotify entry at
  all, not even as a featured credit. Their tracks exist only in the scrobble log.
* ``N`` pairs of Spotify artists with exactly the same name: the listened one (popular half) and a
  Spotify-only twin (unpopular half, never scrobbled, lower popularity AND fewer followers, own
  tracks). The popularity rule picks the right one.
* Last.fm spellings that differ from Spotify's (shares of ``M``): case 4 % (alternately all lower /
  all upper case); accents 3 % (Spotify ``Kalimé``, Last.fm ``Kalime``); leading "The" 3 % (half
  Spotify ``The Ximos`` / Last.fm ``Ximos``, half the reverse); punctuation 3 % (cycling ``Ka!limo`` vs
  ``Kalimo``, ``BRIA/LON`` vs ``BRIALON``, ``Mr. Vera`` vs ``Mr Vera``, ``Vera-Limo`` vs ``Vera Limo``);
  whitespace 3 % (cycling a trailing space, a leading space, a doubled inner space); two spellings
  1 % (the Spotify one, and the lower-cased one on ~25 % of that artist's scrobbles). All variants
  have the same key under "NFKD, drop marks, casefold, & -> and, drop a leading 'the', drop every
  non-alphanumeric character" (``names.normalise_names``), and distinct artists never share that
  key (except the namesake pairs), so normalised matching is exact.
* A further 3 % of ``A`` have an accent spelled identically on both sides (UTF-8 round trip).
* Names with an apostrophe (``Xa N' Limos``, ``Vera's Kalo``, ``O'Brano``) 3 % of ``A``; with a comma
  (``Xa, Vera & Limo``) 2 %; with "&" 4 % (``Vera & the Limos``) — quoted inside the list strings as
  ``repr`` does.
* 25 % of Spotify artists have ``genres`` ``[]`` (drawn towards the tail). One genre name contains an
  apostrophe (``children's music``) and several have spaces or ``&``.
* 8 % of tracks credit several artists (three quarters 2, a quarter 3; popular featured artists
  more likely); ``artists`` and ``id_artists`` list them in credit order (owner first).
* 3 % of tracks have every audio-analysis cell empty (danceability ... tempo, time_signature; only
  duration_ms kept); another 1 % have ``tempo`` empty plus each other audio cell empty with
  probability 0.3.
* 3 % of the tracks beyond each Spotify artist's first (``tracks - spotify_artists``) are another
  release of the artist's top track (different id, lower play weight): 40 % ``Title - Remastered
  YYYY`` (YYYY = its release year; two remasters of one song may share a year), 30 % ``Title (Live)``
  (high liveness), 30 % exactly ``Title`` again (same audio). Other titles are unique within an
  artist. Last.fm ``Track`` cells use the same titles (Last.fm-only artists have their own).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .schema import AUDIO_FEATURES

LASTFM_PATH = "lastfm/Last.fm_data.csv"
PLAYS_PATH = "lastfm/plays.parquet"
TRACKS_PATH = "spotify/tracks.csv"
ARTISTS_PATH = "spotify/artists.csv"
CONFIG_NAME = "musicrec.toml"

LASTFM_COLUMNS: tuple[str, ...] = ("", "Username", "Artist", "Track", "Album", "Date", "Time")
TRACKS_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "popularity",
    "duration_ms",
    "explicit",
    "artists",
    "id_artists",
    "release_date",
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
    "time_signature",
)
ARTISTS_COLUMNS: tuple[str, ...] = ("id", "followers", "genres", "name", "popularity")

# ----------------------------------------------------------------------------------------------
# Genres: prevalence and mean audio profile.
# ----------------------------------------------------------------------------------------------
# Continuous features carried per artist/track (duration in seconds, modelled on the log scale).
FEATURES: tuple[str, ...] = (
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
_F = {name: i for i, name in enumerate(FEATURES)}
# name, prevalence, the FEATURES means, explicit rate, career-age offset (years)
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
# Spread of the per-artist offset and of a track around its artist, per FEATURES entry.
_ARTIST_SD = np.array([0.08, 0.08, 1.8, 0.03, 0.10, 0.10, 0.05, 0.10, 12.0, 0.15])
_TRACK_SD = np.array([0.07, 0.07, 1.5, 0.03, 0.08, 0.10, 0.08, 0.09, 8.0, 0.20])
_LOW = np.array([0.05, 0.01, -40.0, 0.022, 0.0, 0.0, 0.02, 0.01, 55.0, np.log(30.0)])
_HIGH = np.array([0.98, 1.0, -0.5, 0.95, 0.996, 1.0, 1.0, 0.99, 210.0, np.log(1200.0)])

# ----------------------------------------------------------------------------------------------
# Mess quotas (shares; each kind at least one when the pool allows).
# ----------------------------------------------------------------------------------------------
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

_YEAR_START = dt.date(2020, 2, 1)
_YEAR_DAYS = 366
_YEAR_MINUTES = _YEAR_DAYS * 1440
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_CHUNK_PAIRS = 1_500_000  # library slots simulated (and scrobbles written) per chunk of listeners
_CHUNK_SCROBBLES = 3_000_000

_STREAM = {"artists": 1, "names": 2, "tracks": 3, "listeners": 4, "scrobbles": 5}

_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w")
_ONSETS += ("z", "br", "ch", "dr", "tr")  # no "st"/"sh": "bas"+"ta" would equal "ba"+"sta"
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "n", "r", "l", "s")
_SYLLABLES = np.array(
    ["".join(p) for p in itertools.product(_ONSETS, _VOWELS, _CODAS)], dtype=np.dtypes.StringDType()
)
_N_SYL = len(_SYLLABLES)
_SUFFIXES = np.array(
    ["Band", "Trio", "Quartet", "Orchestra", "Collective", "Club", "Project", "Ensemble", "Crew"],
    dtype=np.dtypes.StringDType(),
)
_PREFIXES = np.array(["DJ", "MC", "Lil", "Big", "Young"], dtype=np.dtypes.StringDType())
_TITLES = np.array(["Mr.", "Dr.", "St."], dtype=np.dtypes.StringDType())
_ACCENTS = (("e", "é"), ("o", "ö"), ("a", "á"), ("u", "ü"), ("i", "í"))
_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
_SD = np.dtypes.StringDType()

# Name forms.
(
    _F_ONE,
    _F_TWO,
    _F_THE,
    _F_PLURAL,
    _F_SUFFIX,
    _F_PREFIX,
    _F_AMP,
    _F_APOS,
    _F_COMMA,
    _F_BANG,
    _F_SLASH,
    _F_DOT,
    _F_HYPHEN,
) = range(13)
_FORM_OF_SHARE = {
    "apostrophe": _F_APOS,
    "comma": _F_COMMA,
    "ampersand": _F_AMP,
    "the": _F_THE,
    "suffix": _F_SUFFIX,
    "prefix": _F_PREFIX,
    "two_words": _F_TWO,
}
_PUNCT_FORMS = (_F_BANG, _F_SLASH, _F_DOT, _F_HYPHEN)


# ----------------------------------------------------------------------------------------------
# Small vectorised helpers.
# ----------------------------------------------------------------------------------------------
def _rng(seed: int, stream: str, *extra: int) -> np.random.Generator:
    """An independent generator per part, so one part's draws never shift another's."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAM[stream], *extra]))


def _quota(pool: int, share: float, minimum: int = 1) -> int:
    """How many of ``pool`` get a mess kind: the share, rounded, at least ``minimum`` if possible."""
    return min(pool, max(minimum, round(share * pool)))


def _weighted_pick(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement with probability ~ weights (Gumbel top-k)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(np.maximum(weights, 1e-300)) + rng.gumbel(size=len(weights))
    top = np.argpartition(-keys, k - 1)[:k]
    return np.sort(top)


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Integer counts >= minimum summing exactly to total, proportional to weights (largest rest)."""
    n = len(weights)
    extra = total - minimum * n
    if extra < 0:
        raise ValueError(f"cannot give {n} items at least {minimum} out of {total}")
    raw = weights / weights.sum() * extra
    counts = np.floor(raw).astype(np.int64)
    rest = extra - int(counts.sum())
    if rest:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:rest]] += 1
    return counts + minimum


def _segment_cdf(weights: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Cumulative table for sampling inside contiguous segments of ``weights``.

    ``np.searchsorted(cdf, seg + u, side="right")`` with ``u`` uniform in [0, 1) returns an index in
    segment ``seg`` drawn with probability proportional to its weight. Every segment needs a positive
    total.
    """
    seg_of = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    totals = np.add.reduceat(weights, starts)
    if np.any(totals <= 0):
        raise ValueError("a sampling segment has no positive weight")
    norm = weights / totals[seg_of]
    cs = np.cumsum(norm)
    local = cs - (cs[starts] - norm[starts])[seg_of]
    local = np.clip(local, 0.0, 1.0)
    local[starts + lengths - 1] = 1.0
    return seg_of + local


def _draw(cdf: np.ndarray, seg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One weighted draw per entry of ``seg`` from a :func:`_segment_cdf` table."""
    query = seg + rng.random(len(seg)) * (1.0 - 1e-8)  # stays below seg + 1 after rounding
    if len(query) < 10_000:
        idx = np.searchsorted(cdf, query, side="right")
    else:  # sorted queries make the binary searches cache-friendly (5x faster on big tables)
        order = np.argsort(query)
        idx = np.empty(len(query), dtype=np.int64)
        idx[order] = np.searchsorted(cdf, query[order], side="right")
    return np.minimum(idx, len(cdf) - 1)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element inside its run of equal (sorted) group values."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, groups[1:] != groups[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def _base62_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 22-character base62 ids (Spotify's shape)."""
    codes = rng.integers(0, 62, size=(n, 22), dtype=np.uint8)
    raw = np.ascontiguousarray(_BASE62[codes]).view("S22").ravel()
    return raw.astype("U22").astype(_SD)


def _words(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` capitalised two-syllable fake words, plus their syllables."""
    a = _SYLLABLES[rng.integers(0, _N_SYL, n)]
    b = _SYLLABLES[rng.integers(0, _N_SYL, n)]
    return np.strings.capitalize(np.strings.add(a, b)), a, b


def _s(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise string concatenation."""
    out = np.asarray(parts[0], dtype=_SD)
    for part in parts[1:]:
        out = np.strings.add(out, np.asarray(part, dtype=_SD))
    return out


def _strip_accents(names: np.ndarray) -> np.ndarray:
    """Drop combining marks (``Beyoncé`` -> ``Beyonce``)."""
    s = pd.Series(names, dtype=object).str.normalize("NFKD")
    s = s.str.replace(r"[\u0300-\u036f]", "", regex=True).str.normalize("NFC")
    return s.to_numpy(dtype=_SD)


def _name_key(names: np.ndarray) -> np.ndarray:
    """A deliberately coarse matching key (coarser than ``names.normalise_names``) for uniqueness."""
    s = pd.Series(_strip_accents(names), dtype=object).str.casefold()
    s = s.str.replace(r"^\s*the\s+", "", regex=True).str.replace("&", " and ", regex=False)
    s = s.str.replace(r"\band\b", "", regex=True).str.replace(r"[\W_]+", "", regex=True)
    return s.to_numpy(dtype=object)


def _py_repr(names: np.ndarray) -> np.ndarray:
    """Python's ``repr`` of each string (our names never hold a double quote or a backslash)."""
    has_apos = np.strings.find(names, "'") >= 0
    return np.where(has_apos, _s('"', names, '"'), _s("'", names, "'"))


def _list_repr(parts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``repr(list)`` per row of ``parts`` (already repr'd strings, ``counts`` of them used)."""
    n, width = parts.shape
    out = np.full(n, "[]", dtype=_SD)
    joined = parts[:, 0]
    for k in range(1, width + 1):
        if k > 1:
            joined = _s(joined, ", ", parts[:, k - 1])
        mask = counts == k
        out[mask] = _s("[", joined[mask], "]")
    return out


# ----------------------------------------------------------------------------------------------
# The latent world.
# ----------------------------------------------------------------------------------------------
@dataclass
class Artists:
    """Per artist (index 0 = most popular): who exists where, names, genres, sound."""

    kind: np.ndarray  # KIND_MATCHED / KIND_LASTFM_ONLY / KIND_TWIN
    variant: np.ndarray  # 0 or a _VARIANT_CODES value (Last.fm spelling differs)
    twin_of: np.ndarray  # for KIND_TWIN: the listened artist with the same name; else -1
    spotify_name: np.ndarray
    lastfm_name: np.ndarray
    lastfm_alt: np.ndarray  # second Last.fm spelling ("" if none)
    spotify_id: np.ndarray
    weight: np.ndarray  # Zipf weight
    popularity: np.ndarray
    followers: np.ndarray
    genres: np.ndarray  # (n, 3) genre indices, -1 padded; main first
    genre_w: np.ndarray  # (n, 3)
    genres_listed: np.ndarray  # False: artists.csv shows []
    center: np.ndarray  # (n, len(FEATURES)) audio centre; duration as log seconds
    track_start: np.ndarray
    track_count: np.ndarray


@dataclass
class Tracks:
    """Per track, grouped by owner artist (``track_start``/``track_count`` index into these)."""

    owner: np.ndarray
    pos: np.ndarray  # rank inside the owner's tracks (0 = most played)
    title: np.ndarray
    album: np.ndarray
    visible: np.ndarray  # in tracks.csv (False: a Last.fm-only artist's track)
    play_weight: np.ndarray
    credits: np.ndarray  # (n, 3) artist indices, -1 padded
    variant: np.ndarray  # 0 none, 1 remaster, 2 live, 3 same title
    spotify_id: np.ndarray
    popularity: np.ndarray
    explicit: np.ndarray
    audio: np.ndarray  # (n, len(FEATURES)); duration in seconds here
    key: np.ndarray
    mode: np.ndarray
    time_signature: np.ndarray
    missing: np.ndarray  # (n, 12) bool over the 12 audio-analysis columns (tracks.csv order)
    release_date: np.ndarray


@dataclass
class Listeners:
    """Per listener: name, activity and the (drifting) taste that generated the log."""

    name: np.ndarray
    scrobbles: np.ndarray
    library: np.ndarray  # target number of distinct artists
    theta0: np.ndarray  # (n, G) genre taste at the start of the year
    theta1: np.ndarray  # at the end
    tempo0: np.ndarray
    tempo1: np.ndarray
    valence0: np.ndarray
    valence1: np.ndarray
    explore: np.ndarray


@dataclass
class SampleWorld:
    """The latent truth behind a sample (for tests and diagnostics); ``generate_sample`` writes it."""

    seed: int
    artists: Artists
    tracks: Tracks
    listeners: Listeners


# Audio cells that can be blank in tracks.csv (duration is always known).
_AUDIO_COLUMNS = tuple(c for c in AUDIO_FEATURES if c != "duration_ms")


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


def _check_sizes(users: int, artists: int, tracks: int, scrobbles: int, seed: int) -> None:
    """Refuse sizes the generator cannot honour, with the fix in the message."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    if artists < 40:
        raise ValueError(f"artists must be >= 40 (room for every kind of mess), got {artists}")
    spotify = artists - _quota(artists, SHARE_LASTFM_ONLY)
    if tracks < spotify:
        raise ValueError(
            f"tracks ({tracks}) must be >= the number of Spotify artists ({spotify}): "
            f"every Spotify artist has a track; pass e.g. tracks={10 * spotify}"
        )
    if scrobbles < users:
        raise ValueError(f"scrobbles ({scrobbles}) must be >= users ({users})")


def _build_artists(artists: int, tracks: int, seed: int) -> Artists:
    """Artist roster: kinds, popularity, genres, audio centres, names, ids."""
    rng = _rng(seed, "artists")
    n = artists
    q = mess_quantities(artists, tracks)
    idx = np.arange(n)
    weight = (idx + 1.0) ** -_ZIPF_S

    kind = np.zeros(n, dtype=np.int8)
    lfm_only = _weighted_pick(rng, (idx + 1.0) ** 1.0 * (idx >= 3), q["lastfm_only_artists"])
    kind[lfm_only] = KIND_LASTFM_ONLY
    spotify = np.flatnonzero(kind == KIND_MATCHED)
    half = n // 2
    n_twins = q["namesake_pairs"]
    targets = rng.permutation(spotify[spotify < half])[:n_twins]
    twins = rng.permutation(spotify[spotify >= half])[:n_twins]
    kind[twins] = KIND_TWIN
    twin_of = np.full(n, -1, dtype=np.int64)
    twin_of[twins] = targets

    variant = np.zeros(n, dtype=np.int8)
    pool = np.setdiff1d(np.flatnonzero(kind == KIND_MATCHED), targets)
    pool = rng.permutation(pool)
    at = 0
    for name in SHARE_VARIANTS:
        k = q[f"variant_{name}"]
        variant[pool[at : at + k]] = _VARIANT_CODES[name]
        at += k

    # Genres: main by prevalence, others among similar-sounding genres.
    G = len(GENRES)
    main = rng.choice(G, size=n, p=_PREVALENCE)
    n_genres = rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.20])
    scale = np.array([0.1, 0.1, 3.0, 0.05, 0.15, 0.2, 1.0, 0.12, 15.0, 1.0])
    z = _GENRE_MEAN / scale
    dist = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    related = _PREVALENCE[None, :] * np.exp(-dist / 2.0)
    np.fill_diagonal(related, 0.0)
    rel_cdf = _segment_cdf(related.ravel(), np.full(G, G))
    second = _draw(rel_cdf, main, rng) % G
    third = _draw(rel_cdf, main, rng) % G
    n_genres = np.where((n_genres == 3) & (third == second), 2, n_genres)
    genres = np.stack([main, second, third], axis=1)
    genres[n_genres < 2, 1] = -1
    genres[n_genres < 3, 2] = -1
    w_main = np.where(n_genres == 1, 1.0, rng.uniform(0.55, 0.8, n))
    genre_w = np.stack([w_main, (1 - w_main) / (n_genres - 1 + (n_genres == 1)), np.zeros(n)], 1)
    genre_w[:, 2] = np.where(n_genres == 3, genre_w[:, 1], 0.0)
    genre_w[n_genres < 2, 1] = 0.0

    mix = sum(genre_w[:, [k]] * _GENRE_MEAN[np.maximum(genres[:, k], 0)] for k in range(3))
    center = np.clip(mix + rng.normal(size=mix.shape) * _ARTIST_SD, _LOW, _HIGH)

    listed = np.ones(n, dtype=bool)
    sp = np.flatnonzero(kind != KIND_LASTFM_ONLY)
    empty = sp[_weighted_pick(rng, (sp + 1.0) ** 0.5, q["empty_genres"])]
    listed[empty] = False

    pop_score = np.log(weight)
    pop_score = (pop_score - pop_score.min()) / max(np.ptp(pop_score), 1e-9)
    popularity = np.clip(np.round(20 + 75 * pop_score + rng.normal(0, 5, n)), 0, 100)
    followers = np.round(np.exp(3.0 + 0.12 * popularity + rng.normal(0, 0.8, n)))
    # The listened namesake is always the more popular and the more followed one.
    popularity[twins] = np.maximum(0, np.minimum(popularity[twins], popularity[targets] - 10))
    followers[twins] = np.minimum(followers[twins], np.floor(followers[targets] / 3))

    spotify_name, lastfm_name, lastfm_alt = _artist_names(seed, kind, variant, twin_of, n)
    ids = _base62_ids(rng, n)
    return Artists(
        kind=kind,
        variant=variant,
        twin_of=twin_of,
        spotify_name=spotify_name,
        lastfm_name=lastfm_name,
        lastfm_alt=lastfm_alt,
        spotify_id=ids,
        weight=weight,
        popularity=popularity.astype(np.int64),
        followers=followers.astype(np.int64),
        genres=genres,
        genre_w=genre_w,
        genres_listed=listed,
        center=center,
        track_start=np.zeros(n, dtype=np.int64),
        track_count=np.zeros(n, dtype=np.int64),
    )


def _build_names(forms: np.ndarray, accent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fake artist names of the given forms (syllable words), accented where asked."""
    n = len(forms)
    w1, s1a, s1b = _words(rng, n)
    w2, _, _ = _words(rng, n)
    w3, _, _ = _words(rng, n)
    pick = rng.integers(0, 3, n)
    out = w1.copy()
    plural = _s(w2, "s")
    apos = np.where(
        pick == 0,
        _s(w1, " N' ", plural),
        np.where(pick == 1, _s(w1, "'s ", w2), _s("O'", np.strings.capitalize(s1b), s1a)),
    )
    cases = {
        _F_TWO: _s(w1, " ", w2),
        _F_THE: _s("The ", plural),
        _F_PLURAL: plural,
        _F_SUFFIX: _s(w1, " ", _SUFFIXES[rng.integers(0, len(_SUFFIXES), n)]),
        _F_PREFIX: _s(_PREFIXES[rng.integers(0, len(_PREFIXES), n)], " ", w1),
        _F_AMP: _s(w1, " & the ", plural),
        _F_APOS: apos,
        _F_COMMA: _s(w1, ", ", w2, " & ", w3),
        _F_BANG: _s(np.strings.slice(w1, 0, 2), "!", np.strings.slice(w1, 2, None)),
        _F_SLASH: _s(np.strings.upper(s1a), "/", np.strings.upper(s1b)),
        _F_DOT: _s(_TITLES[rng.integers(0, len(_TITLES), n)], " ", w1),
        _F_HYPHEN: _s(w1, "-", w2),
    }
    for form, values in cases.items():
        mask = forms == form
        out[mask] = values[mask]
    todo = accent.copy()
    for plain, marked in _ACCENTS:
        hit = todo & (np.strings.find(out, plain) >= 0)
        out[hit] = np.strings.replace(out[hit], plain, marked, 1)
        todo &= ~hit
    return out


def _artist_names(
    seed: int, kind: np.ndarray, variant: np.ndarray, twin_of: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spotify spelling, Last.fm spelling and second Last.fm spelling of every artist."""
    rng = _rng(seed, "names")
    v = _VARIANT_CODES
    forms = np.full(n, _F_ONE, dtype=np.int64)
    # Forms forced by a Last.fm variant.
    forms[variant == v["the_drop"]] = _F_THE
    forms[variant == v["the_add"]] = _F_PLURAL
    punct = np.flatnonzero(variant == v["punct"])
    forms[punct] = np.asarray(_PUNCT_FORMS)[np.arange(len(punct)) % 4]
    ws = np.flatnonzero(variant == v["whitespace"])
    forms[ws[np.arange(len(ws)) % 3 == 2]] = _F_TWO
    free = rng.permutation(np.flatnonzero((forms == _F_ONE) & (variant == 0) & (kind != KIND_TWIN)))
    at = 0
    for name, share in SHARE_FORMS.items():
        k = _quota(n, share)
        forms[free[at : at + k]] = _FORM_OF_SHARE[name]
        at += k
    accent = variant == v["accent"]
    plain = np.flatnonzero((variant == 0) & (kind != KIND_TWIN) & ~np.isin(forms, _PUNCT_FORMS))
    accent[rng.permutation(plain)[: _quota(n, SHARE_ACCENT_KEPT)]] = True

    names = _build_names(forms, accent, rng)
    # Distinct artists must never share a matching key: redraw collisions until none are left.
    real = kind != KIND_TWIN
    for _ in range(100):
        keys = _name_key(names)
        dup = pd.Series(keys).where(real).duplicated(keep="first").to_numpy() & real
        dup |= real & (pd.Series(keys).str.len().to_numpy() < 3)
        if not dup.any():
            break
        names[dup] = _build_names(forms[dup], accent[dup], rng)
    else:  # pragma: no cover - 100 rounds never run out with 770 syllables
        raise RuntimeError("could not make unique artist names")
    twins = np.flatnonzero(kind == KIND_TWIN)
    names[twins] = names[twin_of[twins]]

    lastfm = names.copy()
    case = np.flatnonzero(variant == v["case"])
    lastfm[case] = np.where(
        np.arange(len(case)) % 2 == 0, np.strings.lower(names[case]), np.strings.upper(names[case])
    )
    acc = variant == v["accent"]
    lastfm[acc] = _strip_accents(names[acc])
    drop = variant == v["the_drop"]
    lastfm[drop] = np.strings.slice(names[drop], 4, None)
    add = variant == v["the_add"]
    lastfm[add] = _s("The ", names[add])
    p = variant == v["punct"]
    fixed = np.strings.replace(names[p], "-", " ")
    for ch in "!/.":
        fixed = np.strings.replace(fixed, ch, "")
    lastfm[p] = fixed
    style = np.arange(len(ws)) % 3
    lastfm[ws[style == 0]] = _s(names[ws[style == 0]], " ")
    lastfm[ws[style == 1]] = _s(" ", names[ws[style == 1]])
    lastfm[ws[style == 2]] = np.strings.replace(names[ws[style == 2]], " ", "  ", 1)
    alt = np.full(n, "", dtype=_SD)
    two = variant == v["two_spellings"]
    alt[two] = np.strings.lower(names[two])
    return names, lastfm, alt


def _build_tracks(art: Artists, tracks: int, seed: int) -> Tracks:
    """Track table: counts per artist, titles, albums, credits, audio, variants, missing cells."""
    rng = _rng(seed, "tracks")
    n_art = len(art.kind)
    q = mess_quantities(n_art, tracks)
    spotify = np.flatnonzero(art.kind != KIND_LASTFM_ONLY)
    hidden = np.flatnonzero(art.kind == KIND_LASTFM_ONLY)
    counts = np.zeros(n_art, dtype=np.int64)
    noise = rng.lognormal(0.0, 0.8, n_art)
    counts[spotify] = _allocate(tracks, art.weight[spotify] ** 0.4 * noise[spotify], 1)
    per_artist = tracks / len(spotify)
    n_hidden = max(len(hidden), round(per_artist * len(hidden)))
    counts[hidden] = _allocate(n_hidden, art.weight[hidden] ** 0.4 * noise[hidden], 1)
    art.track_count = counts
    art.track_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(counts.sum())
    owner = np.repeat(np.arange(n_art), counts)
    pos = np.arange(total) - art.track_start[owner]
    visible = art.kind[owner] != KIND_LASTFM_ONLY

    # Titles unique inside an artist: an injective walk through pairs of words (the stride is a
    # prime coprime with the space; syllable strings split back uniquely, so words are injective).
    space = _N_SYL**4
    base = rng.integers(0, space, n_art)
    code = (base[owner] + pos * 1_000_003) % space
    w_a = code % (_N_SYL**2)
    w_b = code // (_N_SYL**2)

    def word(w: np.ndarray) -> np.ndarray:
        """Word number ``w`` (two syllables)."""
        return np.strings.capitalize(_s(_SYLLABLES[w // _N_SYL], _SYLLABLES[w % _N_SYL]))

    first, second = word(w_a), word(w_b)
    style = rng.random(total)
    title = np.where(
        style < 0.02,
        _s(first, "'s ", second),
        np.where(style < 0.03, _s(first, ", ", second), _s(first, " ", second)),
    )
    sentence = (style > 0.85) & (style < 0.93)  # sentence case: "Kalimo veratu"
    title[sentence] = _s(first[sentence], " ", np.strings.lower(second[sentence]))
    album_code = (rng.integers(0, _N_SYL**2, n_art)[owner] + (pos // 10) * 7919) % (_N_SYL**2)
    album = word(album_code)

    play_weight = (pos + 1.0) ** -0.9
    audio = art.center[owner] + rng.normal(size=(total, len(FEATURES))) * _TRACK_SD
    audio = np.clip(audio, _LOW, _HIGH)
    energy_dev = audio[:, _F["energy"]] - art.center[owner, _F["energy"]]
    audio[:, _F["loudness"]] = np.clip(audio[:, _F["loudness"]] + 6 * energy_dev, -40.0, -0.5)

    # Other releases of an artist's top track.
    variant = np.zeros(total, dtype=np.int8)
    vis_later = np.flatnonzero(visible & (pos > 0))
    chosen = rng.permutation(vis_later)[: q["track_variants"]]
    kinds = np.where(np.arange(len(chosen)) < round(0.4 * len(chosen)), 1, 0)
    kinds = np.where((kinds == 0) & (np.arange(len(chosen)) < round(0.7 * len(chosen))), 2, kinds)
    kinds = np.where(kinds == 0, 3, kinds)
    variant[chosen] = kinds
    orig = art.track_start[owner[chosen]]
    audio[chosen] = audio[orig]
    play_weight[chosen] *= 0.3

    # Release dates inside the artist's career.
    G_age = _GENRE_AGE[np.maximum(art.genres[:, 0], 0)]
    start_year = np.clip(2020 - np.floor(rng.gamma(1.5, 8.0, n_art) + G_age), 1921, 2020)
    span = np.minimum(30, 2021 - start_year)
    year = (start_year[owner] + np.floor(rng.random(total) * span[owner])).astype(np.int64)
    remaster = chosen[kinds == 1]
    year[remaster] = np.minimum(2021, year[orig[kinds == 1]] + rng.integers(5, 30, len(remaster)))
    year[chosen[kinds != 1]] = year[orig[kinds != 1]] + rng.integers(0, 3, int((kinds != 1).sum()))
    year = np.minimum(year, 2021)
    title[chosen] = title[orig]
    title[remaster] = _s(title[remaster], " - Remastered ", year[remaster].astype(str))
    live = chosen[kinds == 2]
    title[live] = _s(title[live], " (Live)")
    audio[live, _F["liveness"]] = rng.uniform(0.7, 0.98, len(live))
    audio[live, _F["tempo"]] += rng.normal(0, 3, len(live))
    audio[remaster, _F["loudness"]] = np.minimum(-0.5, audio[remaster, _F["loudness"]] + 1.5)

    days = np.array([f"{y}-01-01" for y in range(1921, 2022)], dtype="datetime64[D]")[
        year - 1921
    ] + rng.integers(0, 365, total)
    full = np.datetime_as_string(days, unit="D")
    release = np.where(rng.random(total) < 0.85, full, year.astype(str)).astype(_SD)

    explicit_rate = (art.genre_w * _GENRE_EXPLICIT[np.maximum(art.genres, 0)]).sum(1)
    explicit = (rng.random(total) < explicit_rate[owner]).astype(np.int64)
    valence = audio[:, _F["valence"]]
    key = rng.integers(0, 12, total)
    mode = (rng.random(total) < 0.45 + 0.35 * valence).astype(np.int64)
    time_signature = rng.choice([4, 3, 5, 1], size=total, p=[0.9, 0.07, 0.02, 0.01])
    score = np.log(art.weight)[owner] - 0.9 * np.log1p(pos) - 1.5 * (variant > 0)
    lo, hi = score.min(), score.max()
    popularity = np.clip(
        np.round(5 + 80 * (score - lo) / max(hi - lo, 1e-9) + rng.normal(0, 6, total)), 0, 100
    ).astype(np.int64)

    # Credits: owner first, then 1-2 featured Spotify artists (popular ones more likely).
    credits = np.full((total, 3), -1, dtype=np.int64)
    credits[:, 0] = owner
    vis = np.flatnonzero(visible)
    multi = np.sort(rng.permutation(vis)[: q["multi_artist_tracks"]])
    three = multi[np.arange(len(multi)) % 4 == 3]
    feat_w = art.weight[spotify] ** 0.5
    feat_cdf = _segment_cdf(feat_w, np.array([len(spotify)]))
    zeros = np.zeros(len(multi), dtype=np.int64)
    f1 = _draw(feat_cdf, zeros, rng)
    f1 = np.where(spotify[f1] == owner[multi], (f1 + 1) % len(spotify), f1)
    credits[multi, 1] = spotify[f1]
    f2 = _draw(feat_cdf, zeros[: len(three)], rng)
    for _ in range(2):
        clash = (spotify[f2] == owner[three]) | (spotify[f2] == credits[three, 1])
        f2 = np.where(clash, (f2 + 1) % len(spotify), f2)
    credits[three, 2] = spotify[f2]

    # Missing audio cells.
    missing = np.zeros((total, len(_AUDIO_COLUMNS)), dtype=bool)
    gone = rng.permutation(vis)[: q["audio_missing_tracks"] + q["audio_partial_tracks"]]
    missing[gone[: q["audio_missing_tracks"]]] = True
    partial = gone[q["audio_missing_tracks"] :]
    missing[partial] = rng.random((len(partial), len(_AUDIO_COLUMNS))) < 0.3
    missing[partial, _AUDIO_COLUMNS.index("tempo")] = True

    audio[:, _F["duration_s"]] = np.exp(audio[:, _F["duration_s"]])
    ids = _base62_ids(rng, total)
    return Tracks(
        owner=owner,
        pos=pos,
        title=title,
        album=album,
        visible=visible,
        play_weight=play_weight,
        credits=credits,
        variant=variant,
        spotify_id=ids,
        popularity=popularity,
        explicit=explicit,
        audio=audio,
        key=key,
        mode=mode,
        time_signature=time_signature,
        missing=missing,
        release_date=release,
    )


def _heaps_library(scrobbles: np.ndarray, k: float, cap: int) -> np.ndarray:
    """Distinct artists per listener for a Heaps' law constant ``k``."""
    n = np.ceil(k * scrobbles.astype(np.float64) ** _HEAPS_EXP).astype(np.int64)
    return np.maximum(1, np.minimum(np.minimum(n, scrobbles), cap))


def _build_listeners(
    users: int, scrobbles: int, pairs: int | None, n_playable: int, seed: int
) -> Listeners:
    """Listener tastes, activity and library sizes."""
    rng = _rng(seed, "listeners")
    alpha = _ALPHA_TASTE * _PREVALENCE
    theta0 = rng.dirichlet(alpha, size=users)
    theta1 = (1 - _DRIFT) * theta0 + _DRIFT * rng.dirichlet(alpha, size=users)
    tempo_g = _GENRE_MEAN[:, _F["tempo"]]
    valence_g = _GENRE_MEAN[:, _F["valence"]]
    t_own = rng.normal(0, 10, users)
    v_own = rng.normal(0, 0.08, users)
    tempo0 = np.clip(theta0 @ tempo_g + t_own, 62.0, 188.0)
    tempo1 = np.clip(theta1 @ tempo_g + t_own + rng.normal(0, 5, users), 62.0, 188.0)
    valence0 = np.clip(theta0 @ valence_g + v_own, 0.02, 0.98)
    valence1 = np.clip(theta1 @ valence_g + v_own + rng.normal(0, 0.05, users), 0.02, 0.98)
    explore = rng.beta(*_EXPLORE_BETA, users)

    minimum = min(_MIN_SCROBBLES, scrobbles // users)
    activity = _allocate(scrobbles, rng.lognormal(0.0, 1.1, users), minimum)
    cap = max(1, int(0.9 * n_playable))
    if pairs is None:
        library = _heaps_library(activity, _HEAPS_K, cap)
    else:
        most = int(np.minimum(activity, cap).sum())
        if not users <= pairs <= most:
            raise ValueError(f"pairs must be between users ({users}) and {most}, got {pairs}")
        lo, hi = 0.0, 1.0
        while _heaps_library(activity, hi, cap).sum() < pairs:
            hi *= 2
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _heaps_library(activity, mid, cap).sum() < pairs else (lo, mid)
        library = _heaps_library(activity, hi, cap)

    names = _user_names(rng, users)
    return Listeners(
        name=names,
        scrobbles=activity,
        library=library,
        theta0=theta0,
        theta1=theta1,
        tempo0=tempo0,
        tempo1=tempo1,
        valence0=valence0,
        valence1=valence1,
        explore=explore,
    )


def _user_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique (case-insensitively) Last.fm-like user names: ``Babs_05``, ``eartle``, ``Knapster01``."""
    out = np.full(n, "", dtype=_SD)
    todo = np.arange(n)
    for _ in range(100):
        m = len(todo)
        w1, _, _ = _words(rng, m)
        w2, _, _ = _words(rng, m)
        digits = np.char.zfill(rng.integers(0, 100, m).astype(str), 2).astype(_SD)
        form = rng.integers(0, 5, m)
        out[todo] = np.select(
            [form == 0, form == 1, form == 2, form == 3],
            [
                _s(w1, "_", digits),
                _s(w1, digits),
                np.strings.lower(w1),
                np.strings.lower(_s(w1, w2)),
            ],
            _s(w1, np.strings.lower(w2)),
        )
        dup = pd.Series(np.strings.lower(out), dtype=object).duplicated(keep="first").to_numpy()
        todo = np.flatnonzero(dup)
        if not len(todo):
            return out
    raise RuntimeError("could not make unique user names")  # pragma: no cover


def build_world(
    *,
    users: int = 300,
    artists: int = 600,
    tracks: int = 6000,
    scrobbles: int = 120_000,
    seed: int = 42,
    pairs: int | None = None,
) -> SampleWorld:
    """The latent catalogue and listeners of a sample (what :func:`generate_sample` writes from)."""
    _check_sizes(users, artists, tracks, scrobbles, seed)
    art = _build_artists(artists, tracks, seed)
    trk = _build_tracks(art, tracks, seed)
    playable = int((art.kind != KIND_TWIN).sum())
    lis = _build_listeners(users, scrobbles, pairs, playable, seed)
    return SampleWorld(seed=seed, artists=art, tracks=trk, listeners=lis)


# ----------------------------------------------------------------------------------------------
# Listening simulation.
# ----------------------------------------------------------------------------------------------
@dataclass
class _Tables:
    """Sampling tables shared by all listener blocks of a run."""

    cdf: np.ndarray  # per (genre, tempo bin, valence bin) cell: its genre's artists, weighted
    artist: np.ndarray  # artist of each cdf entry
    genre_ok: np.ndarray  # genres with at least one playable artist
    genre_pos: np.ndarray  # genre -> its cell block (empty genres have none)
    explore_cdf: np.ndarray  # mainstream picks over playable artists
    playable: np.ndarray
    track_cdf: np.ndarray  # per artist: its tracks by play weight
    has_alt: np.ndarray  # artists with a second Last.fm spelling
    chunk_users: np.ndarray  # the listener block being simulated


def _tables(world: SampleWorld) -> _Tables:
    """Sampling tables (built once; 40 cells x ~2 genre memberships per artist)."""
    art = world.artists
    playable = np.flatnonzero(art.kind != KIND_TWIN)
    a = np.repeat(playable, 3)
    slot = np.tile(np.arange(3), len(playable))
    g = art.genres[a, slot]
    keep = g >= 0
    a, g, w = a[keep], g[keep], art.genre_w[a[keep], slot[keep]]
    order = np.argsort(g, kind="stable")
    a, g, w = a[order], g[order], w[order]
    G = len(GENRES)
    per_genre = np.bincount(g, minlength=G)
    tc = (_TEMPO_EDGES[:-1] + _TEMPO_EDGES[1:]) / 2
    vc = (_VALENCE_EDGES[:-1] + _VALENCE_EDGES[1:]) / 2
    tz = (art.center[a, _F["tempo"]][:, None] - tc[None, :]) / _SIGMA_TEMPO
    vz = (art.center[a, _F["valence"]][:, None] - vc[None, :]) / _SIGMA_VALENCE
    fit = np.exp(-0.5 * (tz[:, :, None] ** 2 + vz[:, None, :] ** 2)).reshape(len(a), -1)
    base = art.weight[a] ** _POP_EXP * w
    n_bins = fit.shape[1]
    weights, artist, lengths = [], [], []
    starts = np.concatenate([[0], np.cumsum(per_genre)])
    for genre in np.flatnonzero(per_genre):  # at most 21 genres: a loop over a constant
        sl = slice(starts[genre], starts[genre + 1])
        block = (base[sl, None] * fit[sl] + 1e-300).T  # (bins, artists of the genre)
        weights.append(block.ravel())
        artist.append(np.tile(a[sl], n_bins))
        lengths.append(np.full(n_bins, per_genre[genre]))
    genre_ok = per_genre > 0
    return _Tables(
        cdf=_segment_cdf(np.concatenate(weights), np.concatenate(lengths)),
        artist=np.concatenate(artist),
        genre_ok=genre_ok,
        genre_pos=np.cumsum(genre_ok) - 1,
        explore_cdf=_segment_cdf(art.weight[playable], np.array([len(playable)])),
        playable=playable,
        track_cdf=_segment_cdf(world.tracks.play_weight, art.track_count),
        has_alt=art.lastfm_alt != "",
        chunk_users=np.zeros(0, dtype=np.int64),
    )


def _taste_cdf(lis: Listeners, users: np.ndarray, genre_ok: np.ndarray) -> np.ndarray:
    """Genre sampling table per (listener, start/end of year); segment ``2 * i + late``."""
    theta = np.stack([lis.theta0[users], lis.theta1[users]], axis=1) * genre_ok
    total = theta.sum(-1, keepdims=True)
    theta = np.where(total > 0, theta, genre_ok * _PREVALENCE)
    return _segment_cdf(theta.reshape(-1), np.full(2 * len(users), len(GENRES)))


def _library_draws(
    world: SampleWorld,
    tables: _Tables,
    taste_cdf: np.ndarray,
    local: np.ndarray,
    counts: np.ndarray,
    progress: np.ndarray,
    widen: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``counts[i]`` artist draws for chunk listener ``local[i]`` at the given year progress.

    ``progress`` (one value per draw, 0 = start of the year, 1 = end) sets the taste used: the
    genre mix moves from ``theta0`` to ``theta1`` and the tempo/valence targets along with it.
    ``widen`` > 0 (catch-up rounds for listeners whose taste ran out of new artists) adds that much
    exploration, and exploration then picks uniformly among all playable artists.
    """
    lis = world.listeners
    who_local = np.repeat(local, counts)
    who = tables.chunk_users[who_local]
    n = len(who)
    late = rng.random(n) < progress  # the taste at that time mixes the start and end tastes
    seg = 2 * who_local + late
    genre = _draw(taste_cdf, seg, rng) - seg * len(GENRES)
    tempo = lis.tempo0[who] + progress * (lis.tempo1[who] - lis.tempo0[who])
    valence = lis.valence0[who] + progress * (lis.valence1[who] - lis.valence0[who])
    tb = np.clip(np.searchsorted(_TEMPO_EDGES, tempo) - 1, 0, len(_TEMPO_EDGES) - 2)
    vb = np.clip(np.searchsorted(_VALENCE_EDGES, valence) - 1, 0, len(_VALENCE_EDGES) - 2)
    n_bins = (len(_TEMPO_EDGES) - 1) * (len(_VALENCE_EDGES) - 1)
    cell = tables.genre_pos[genre] * n_bins + tb * (len(_VALENCE_EDGES) - 1) + vb
    artist = tables.artist[_draw(tables.cdf, cell, rng)]
    explore = rng.random(n) < lis.explore[who] + widen
    if widen > 0:
        picks = rng.integers(0, len(tables.playable), int(explore.sum()))
    else:
        picks = _draw(tables.explore_cdf, np.zeros(int(explore.sum()), np.int64), rng)
    artist[explore] = tables.playable[picks]
    return artist


def _library(
    world: SampleWorld, tables: _Tables, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct artists per chunk listener in discovery order: (local, artist, tau, rank).

    Draws with replacement, keeping first occurrences in draw order, is exactly successive
    sampling without replacement; listeners still short after a round draw again, exploring more
    widely each time (8 rounds; a listener may end a little short of the target).
    Discovery times follow draw order (sorted uniform times), so the likeliest artists (popular,
    close to the taste) come first and later discoveries reach further into the tail.
    """
    users = tables.chunk_users
    target = world.listeners.library[users]
    n_art = len(world.artists.kind)
    taste_cdf = _taste_cdf(world.listeners, users, tables.genre_ok)
    who_all, art_all = [], []
    need = np.arange(len(users))
    counts = np.ceil(target * 1.3).astype(np.int64) + 2
    horizon = counts.astype(np.float64)  # draws expected over the year
    drawn = np.zeros(len(users), dtype=np.int64)
    for attempt in range(8):
        who = np.repeat(need, counts)
        step = _rank_within(who) + drawn[who]
        progress = np.minimum(1.0, (step + 0.5) / horizon[who])
        widen = 0.0 if attempt < 2 else 0.15 * (attempt - 1)
        draws = _library_draws(world, tables, taste_cdf, need, counts, progress, widen, rng)
        art_all.append(draws)
        who_all.append(who)
        drawn[need] += counts
        who = np.concatenate(who_all)
        _, first = np.unique(who * n_art + np.concatenate(art_all), return_index=True)
        deficit = target - np.bincount(who[first], minlength=len(users))
        short = deficit > 0
        if not short.any():
            break
        need = np.flatnonzero(short)
        counts = 2 * deficit[short] + 4
    who = np.concatenate(who_all)
    art = np.concatenate(art_all)
    _, first = np.unique(who * n_art + art, return_index=True)
    first = np.sort(first)  # draw order
    order = first[np.argsort(who[first], kind="stable")]
    rank = _rank_within(who[order])
    keep = rank < target[who[order]]
    order, rank = order[keep], rank[keep]
    who = who[order]
    u = rng.random(len(order))
    tau = u[np.lexsort((u, who))]  # sorted times per listener, matched to discovery rank
    return who, art[order], tau, rank


def _simulate_chunk(
    world: SampleWorld, tables: _Tables, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Scrobbles of a block of listeners: listener, artist, Last.fm name index, track, minute."""
    lis, art = world.listeners, world.artists
    users = tables.chunk_users
    local, artist, tau, rank = _library(world, tables, rng)
    # Every library artist has its first scrobble at tau; the extra plays favour early picks.
    n_lib = np.bincount(local, minlength=len(users))
    extra = lis.scrobbles[users] - n_lib
    slot_cdf = _segment_cdf((rank + 1.0) ** -0.8 * (1.05 - tau), n_lib)
    seg = np.repeat(np.arange(len(users)), extra)
    slot = _draw(slot_cdf, seg, rng)
    when_extra = tau[slot] + (1.0 - tau[slot]) * rng.random(len(slot)) ** 1.5
    s_user = users[np.concatenate([local, local[slot]])]
    s_artist = np.concatenate([artist, artist[slot]])
    when = np.concatenate([tau, when_extra])
    minute = np.minimum((when * _YEAR_MINUTES).astype(np.int64), _YEAR_MINUTES - 1)
    track = _draw(tables.track_cdf, s_artist, rng)
    # Artist spelling on Last.fm (a few artists have two).
    name_idx = s_artist.copy()
    alt = tables.has_alt[s_artist] & (rng.random(len(s_artist)) < SHARE_ALT_SPELLING_PLAYS)
    name_idx[alt] = len(art.kind) + s_artist[alt]
    order = np.lexsort((-minute, s_user))
    return {
        "user": s_user[order],
        "artist": s_artist[order],
        "name": name_idx[order],
        "track": track[order],
        "minute": minute[order],
    }


def _chunks(world: SampleWorld) -> list[np.ndarray]:
    """Listener blocks small enough to bound memory (boundaries depend only on the sizes)."""
    lis = world.listeners
    load = np.maximum(
        np.cumsum(lis.library) / _CHUNK_PAIRS, np.cumsum(lis.scrobbles) / _CHUNK_SCROBBLES
    )
    block = np.floor(load - 1e-9).astype(np.int64)
    bounds = np.flatnonzero(np.r_[True, block[1:] != block[:-1], True])
    return [np.arange(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def simulate(world: SampleWorld) -> Iterator[dict[str, np.ndarray]]:
    """Scrobbles, listener block by listener block (each block ordered by listener, newest first)."""
    tables = _tables(world)
    for i, users in enumerate(_chunks(world)):
        tables.chunk_users = users
        yield _simulate_chunk(world, tables, _rng(world.seed, "scrobbles", i))


# ----------------------------------------------------------------------------------------------
# Writing.
# ----------------------------------------------------------------------------------------------
def _cells_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """CSV cells of one column: numbers as text, nulls empty, strings quoted only when needed."""
    if isinstance(arr, pa.ChunkedArray):  # pa.array may chunk large string inputs
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if not pa.types.is_string(arr.type):
        return pc.fill_null(pc.cast(arr, pa.string()), "")
    needs = pc.match_substring_regex(arr, '[",\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(needs, quoted, arr), "")


def _write_rows(
    sink: BinaryIO, columns: list[pa.Array], *, rendered: bool = False, batch: int = 500_000
) -> None:
    """Append CSV rows (minimal quoting, ``\\n`` line ends) for equally long columns.

    ``rendered``: the columns already went through :func:`_cells_text` (e.g. taken from a rendered
    dictionary, which is much cheaper than escaping every row).
    """
    columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns]
    n = len(columns[0])
    for lo in range(0, n, batch):
        cells = [
            c.slice(lo, batch) if rendered else _cells_text(c.slice(lo, batch)) for c in columns
        ]
        cells[-1] = pc.binary_join_element_wise(cells[-1], "", "\n")
        lines = pc.binary_join_element_wise(*cells, ",")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
        start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
        sink.write(memoryview(lines.buffers()[2])[start:end])


def _header(columns: tuple[str, ...]) -> bytes:
    """The header line, written as is (the Last.fm index column's name is empty)."""
    return (",".join(columns) + "\n").encode()


def _float_col(values: np.ndarray, decimals: int, missing: np.ndarray | None = None) -> pa.Array:
    """Rounded like Spotify's export; ``missing`` cells become empty."""
    return pa.array(np.round(values, decimals), mask=missing)


def _int_col(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Integers written without a decimal point; ``missing`` cells become empty."""
    return pa.array(values.astype(np.int64), mask=missing)


def _write_artists(path: Path, art: Artists, rng: np.random.Generator) -> None:
    """artists.csv: every Spotify artist (namesake twins included), in random order."""
    rows = rng.permutation(np.flatnonzero(art.kind != KIND_LASTFM_ONLY))
    genre_repr = _py_repr(np.array(GENRES, dtype=_SD))
    g = art.genres[rows]
    parts = genre_repr[np.maximum(g, 0)]
    counts = np.where(art.genres_listed[rows], (g >= 0).sum(1), 0)
    cols = [
        pa.array(art.spotify_id[rows]),
        _int_col(art.followers[rows]),
        pa.array(_list_repr(parts, counts)),
        pa.array(art.spotify_name[rows]),
        _int_col(art.popularity[rows]),
    ]
    with path.open("wb") as sink:
        sink.write(_header(ARTISTS_COLUMNS))
        _write_rows(sink, cols)


def _write_tracks(path: Path, art: Artists, trk: Tracks, rng: np.random.Generator) -> None:
    """tracks.csv: every visible track, in random order, credits as Python list reprs."""
    rows = rng.permutation(np.flatnonzero(trk.visible))
    cr = trk.credits[rows]
    n_credits = (cr >= 0).sum(1)
    safe = np.maximum(cr, 0)
    names = _list_repr(_py_repr(art.spotify_name[safe]), n_credits)
    ids = _list_repr(_s("'", art.spotify_id[safe], "'"), n_credits)
    au = trk.audio[rows]
    miss = trk.missing[rows]

    def m(col: str) -> np.ndarray:
        return miss[:, _AUDIO_COLUMNS.index(col)]

    f = _F
    cols = [
        pa.array(trk.spotify_id[rows]),
        pa.array(trk.title[rows]),
        _int_col(trk.popularity[rows]),
        _int_col(np.round(au[:, f["duration_s"]] * 1000)),
        _int_col(trk.explicit[rows]),
        pa.array(names),
        pa.array(ids),
        pa.array(trk.release_date[rows]),
        _float_col(au[:, f["danceability"]], 3, m("danceability")),
        _float_col(au[:, f["energy"]], 3, m("energy")),
        _int_col(trk.key[rows], m("key")),
        _float_col(au[:, f["loudness"]], 3, m("loudness")),
        _int_col(trk.mode[rows], m("mode")),
        _float_col(au[:, f["speechiness"]], 4, m("speechiness")),
        _float_col(au[:, f["acousticness"]], 3, m("acousticness")),
        _float_col(au[:, f["instrumentalness"]], 6, m("instrumentalness")),
        _float_col(au[:, f["liveness"]], 3, m("liveness")),
        _float_col(au[:, f["valence"]], 3, m("valence")),
        _float_col(au[:, f["tempo"]], 3, m("tempo")),
        _int_col(trk.time_signature[rows], m("time_signature")),
    ]
    with path.open("wb") as sink:
        sink.write(_header(TRACKS_COLUMNS))
        _write_rows(sink, cols)


def _write_lastfm(path: Path | None, world: SampleWorld, plays_path: Path | None = None) -> int:
    """Stream the scrobble log block by block; returns the number of scrobbles.

    ``plays_path``: also (or, with ``path=None``, only) write the listens aggregated per listener
    and Last.fm spelling as a ``plays_table`` Parquet (``user, artist, plays``), from the same
    simulation pass.
    """
    art, trk, lis = world.artists, world.tracks, world.listeners
    # Render each dictionary once; rows are then plain takes.
    users = _cells_text(pa.array(lis.name))
    names = _cells_text(pa.array(np.concatenate([art.lastfm_name, art.lastfm_alt])))
    titles = _cells_text(pa.array(trk.title))
    albums = _cells_text(pa.array(trk.album))
    days = [_YEAR_START + dt.timedelta(days=d) for d in range(_YEAR_DAYS)]
    day_text = pa.array([f"{d.day:02d} {_MONTHS[d.month - 1]} {d.year}" for d in days])
    clock = pa.array([f"{h:02d}:{mi:02d}" for h in range(24) for mi in range(60)])
    plays = _PlaysWriter(plays_path, world) if plays_path is not None else None
    written = 0
    with path.open("wb") if path is not None else contextlib.nullcontext() as sink:
        if sink is not None:
            sink.write(_header(LASTFM_COLUMNS))
        for block in simulate(world):
            n = len(block["user"])
            if plays is not None:
                plays.add(block)
            if sink is not None:
                minute = block["minute"]
                cols = [
                    pc.cast(pa.array(np.arange(written, written + n, dtype=np.int64)), pa.string()),
                    users.take(pa.array(block["user"])),
                    names.take(pa.array(block["name"])),
                    titles.take(pa.array(block["track"])),
                    albums.take(pa.array(block["track"])),
                    day_text.take(pa.array(minute // 1440)),
                    clock.take(pa.array(minute % 1440)),
                ]
                _write_rows(sink, cols, rendered=True)
            written += n
    if plays is not None:
        plays.close()
    return written


class _PlaysWriter:
    """The listens as a play-count table (what Last.fm-360K ships): one row per listener and
    Last.fm spelling with its number of scrobbles, rows in listener block order, written to
    Parquet block by block (blocks hold whole listeners, so every row is final)."""

    def __init__(self, path: Path, world: SampleWorld) -> None:
        art = world.artists
        self.users = pa.array(world.listeners.name).cast(pa.string())
        self.names = pa.array(np.concatenate([art.lastfm_name, art.lastfm_alt])).cast(pa.string())
        self.n_names = len(self.names)
        self.schema = pa.schema(
            [("user", pa.string()), ("artist", pa.string()), ("plays", pa.int64())]
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.rows = 0

    def add(self, block: dict[str, np.ndarray]) -> None:
        key = block["user"].astype(np.int64) * self.n_names + block["name"]
        keys, counts = np.unique(key, return_counts=True)
        table = pa.table(
            {
                "user": self.users.take(pa.array(keys // self.n_names)),
                "artist": self.names.take(pa.array(keys % self.n_names)),
                "plays": pa.array(counts.astype(np.int64)),
            },
            schema=self.schema,
        )
        self.writer.write_table(table, row_group_size=1_000_000)
        self.rows += len(table)

    def close(self) -> None:
        if self.rows == 0:  # keep a valid (empty) file
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()


LISTENS_OPTIONS: tuple[str, ...] = ("scrobbles", "plays_table", "both")


def _listens_source(listens: str) -> str:
    """The ``[sources.listens]`` keys: the scrobble log, or the play-count Parquet."""
    if listens == "scrobbles":
        return f'format = "lastfm_kaggle"\npath = "{LASTFM_PATH}"'
    return f'format = "plays_table"\npath = "{PLAYS_PATH}"'


def _config_text(seed: int, sizes: dict[str, int | None], listens: str = "scrobbles") -> str:
    """The sample's musicrec.toml (paths relative to it, artifacts under ``derived``)."""
    described = ", ".join(f"{k}={v}" for k, v in sizes.items() if v is not None)
    return f"""# musicrec config for the synthetic sample written by musicrec_assets.core.sample
# ({described}, seed={seed}). Paths are relative to this file.
seed = {seed}

[storage]
dir = "derived"

[sources.listens]
{_listens_source(listens)}

[sources.tracks]
format = "spotify_600k_tracks"
path = "{TRACKS_PATH}"

[sources.artists]
format = "spotify_600k_artists"
path = "{ARTISTS_PATH}"
"""


def generate_sample(
    out_dir: str | Path,
    *,
    users: int = 300,
    artists: int = 600,
    tracks: int = 6000,
    scrobbles: int = 120_000,
    seed: int = 42,
    pairs: int | None = None,
    listens: str = "scrobbles",
) -> Path:
    """Write lastfm/Last.fm_data.csv, spotify/tracks.csv, spotify/artists.csv and musicrec.toml; return the toml path.

    ``artists`` counts every artist of the synthetic world (15 % of them exist on Last.fm only),
    ``tracks`` the rows of tracks.csv, ``scrobbles`` the rows of the Last.fm log. ``pairs`` optionally
    sets the number of distinct listener-artist pairs to aim for (default: Heaps' law, see the module
    docstring); a few listeners may end slightly short if their taste cannot reach that many artists.

    ``listens`` chooses the listening data, the way real data sets come: ``"scrobbles"`` (default)
    the scrobble log above; ``"plays_table"`` instead of it ``lastfm/plays.parquet``, the same
    scrobbles aggregated to ``user, artist, plays`` per listener and Last.fm spelling (the layout of
    Last.fm-360K, no timestamps), with the toml's listens source ``format = "plays_table"``;
    ``"both"`` writes both files and points the toml at the Parquet.
    """
    if listens not in LISTENS_OPTIONS:
        raise ValueError(f"listens must be one of {LISTENS_OPTIONS}, got {listens!r}")
    out = Path(out_dir)
    world = build_world(
        users=users, artists=artists, tracks=tracks, scrobbles=scrobbles, seed=seed, pairs=pairs
    )
    (out / "lastfm").mkdir(parents=True, exist_ok=True)
    (out / "spotify").mkdir(parents=True, exist_ok=True)
    write_rng = _rng(seed, "tracks", 1)
    _write_artists(out / ARTISTS_PATH, world.artists, write_rng)
    _write_tracks(out / TRACKS_PATH, world.artists, world.tracks, write_rng)
    _write_lastfm(
        out / LASTFM_PATH if listens in ("scrobbles", "both") else None,
        world,
        out / PLAYS_PATH if listens in ("plays_table", "both") else None,
    )
    toml = out / CONFIG_NAME
    sizes = {
        "users": users,
        "artists": artists,
        "tracks": tracks,
        "scrobbles": scrobbles,
        "pairs": pairs,
    }
    toml.write_text(_config_text(seed, sizes, listens), encoding="utf-8")
    return toml
