"""The track table: counts per artist, titles, albums, credits, audio, releases, missing cells."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.schema import AUDIO_FEATURES
from .artists import Artists
from .draws import _N_SYL, _SD, _SYLLABLES, _allocate, _base62_ids, _draw, _rng, _s, _segment_cdf
from .params import (
    _F,
    _GENRE_AGE,
    _GENRE_EXPLICIT,
    _HIGH,
    _LOW,
    _TRACK_SD,
    KIND_LASTFM_ONLY,
    SAMPLE_AUDIO_FEATURES,
    mess_quantities,
)


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
    audio: np.ndarray  # (n, len(SAMPLE_AUDIO_FEATURES)); duration in seconds here
    key: np.ndarray
    mode: np.ndarray
    time_signature: np.ndarray
    missing: np.ndarray  # (n, 12) bool over the 12 audio-analysis columns (tracks.csv order)
    release_date: np.ndarray


# Audio cells that can be blank in tracks.csv (duration is always known).
_AUDIO_COLUMNS = tuple(c for c in AUDIO_FEATURES if c != "duration_ms")


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
    audio = art.center[owner] + rng.normal(size=(total, len(SAMPLE_AUDIO_FEATURES))) * _TRACK_SD
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
