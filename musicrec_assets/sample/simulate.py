"""The listening simulation: who discovers which artist when, and every scrobble after that.

Listeners are simulated in blocks (boundaries depend only on the sizes) so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..core.grouping import cumcount
from .draws import _draw, _rng, _segment_cdf
from .listeners import Listeners
from .params import (
    _F,
    _POP_EXP,
    _PREVALENCE,
    _SIGMA_TEMPO,
    _SIGMA_VALENCE,
    _TEMPO_EDGES,
    _VALENCE_EDGES,
    _YEAR_MINUTES,
    GENRES,
    KIND_TWIN,
    SHARE_ALT_SPELLING_PLAYS,
)
from .world import SampleWorld

_CHUNK_PAIRS = 1_500_000  # library slots simulated (and scrobbles written) per chunk of listeners
_CHUNK_SCROBBLES = 3_000_000


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
        step = cumcount([who]) + drawn[who]
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
    rank = cumcount([who[order]])
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
