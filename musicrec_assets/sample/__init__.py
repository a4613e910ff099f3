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

from .artists import Artists
from .listeners import Listeners
from .params import GENRES, SAMPLE_AUDIO_FEATURES, mess_quantities
from .simulate import simulate
from .tracks import Tracks
from .world import SampleWorld, build_world
from .write import (
    ARTISTS_COLUMNS,
    ARTISTS_PATH,
    CONFIG_NAME,
    LASTFM_COLUMNS,
    LASTFM_PATH,
    LISTENS_OPTIONS,
    PLAYS_PATH,
    TRACKS_COLUMNS,
    TRACKS_PATH,
    generate_sample,
)

__all__ = [
    "ARTISTS_COLUMNS",
    "ARTISTS_PATH",
    "CONFIG_NAME",
    "GENRES",
    "LASTFM_COLUMNS",
    "LASTFM_PATH",
    "LISTENS_OPTIONS",
    "PLAYS_PATH",
    "SAMPLE_AUDIO_FEATURES",
    "TRACKS_COLUMNS",
    "TRACKS_PATH",
    "Artists",
    "Listeners",
    "SampleWorld",
    "Tracks",
    "build_world",
    "generate_sample",
    "mess_quantities",
    "simulate",
]
