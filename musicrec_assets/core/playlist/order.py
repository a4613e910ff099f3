"""Ordering steps: tempo smoothing, artist spreading and the final numbering, all playlists at
once (one position per NumPy step across every listener, instead of a loop per listener)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..grouping import cumcount, dense_rank, pack, runs
from .keys import codes_of, with_columns


def _layout(user: np.ndarray) -> np.ndarray:
    """Row numbers of each listener's tracks as a (listeners × longest) matrix; -1 pads.

    Listeners in order of first appearance. Ordering steps work on all playlists at once, one
    position per numpy step, instead of a Python loop per listener.
    """
    order, start = runs([user])
    first = order[start]  # each listener's first row (the order is stable)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    group = np.empty(len(user), dtype=np.int64)
    group[order] = rank[np.cumsum(start) - 1]
    pos = cumcount([group])
    layout = np.full((len(first), int(pos.max()) + 1), -1, dtype=np.int64)
    layout[group, pos] = np.arange(len(user))
    return layout


def _reordered(layout: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows in the new order: ``order[p, t]`` is the column of ``layout`` placed at position t."""
    picked = order >= 0
    return np.take_along_axis(layout, np.where(picked, order, 0), axis=1)[picked]


def tempo_smooth(playlist: pd.DataFrame) -> pd.DataFrame:
    """Order each playlist to avoid tempo jumps: start at the track nearest the median tempo, then
    always go to the nearest remaining tempo (ties: the better-placed track).

    Tracks without tempo count as the playlist's median tempo.
    """
    order = _smooth_order(codes_of(playlist, "user")[0], playlist["tempo"].to_numpy(dtype=float))
    return playlist.take(order).reset_index(drop=True)


def _smooth_order(user: np.ndarray, tempo: np.ndarray) -> np.ndarray:
    """:func:`tempo_smooth`'s row order."""
    if not len(user):
        return np.arange(0)
    layout = _layout(user)
    valid = layout >= 0
    tempo = np.where(valid, tempo[layout], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no known tempo at all
        median = np.nanmedian(tempo, axis=1)
    median = np.where(np.isnan(median), 0.0, median)
    tempo = np.where(np.isnan(tempo), median[:, None], tempo)
    avail = valid.copy()
    order = np.full(layout.shape, -1, dtype=np.int64)
    rows = np.arange(layout.shape[0])
    last = median
    for step in range(layout.shape[1]):
        gap = np.where(avail, np.abs(tempo - last[:, None]), np.inf)
        pick = gap.argmin(axis=1)
        has = avail[rows, pick]
        order[has, step] = pick[has]
        avail[rows[has], pick[has]] = False
        last = np.where(has, tempo[rows, pick], last)
    return _reordered(layout, order)


def spread_artists(playlist: pd.DataFrame) -> pd.DataFrame:
    """Reorder so no two consecutive tracks share an artist whenever that is possible.

    Greedy over the current order: take the first remaining track whose artist differs from the
    previous one, unless an artist holds more than half of what remains (then it must go now or
    the rest cannot alternate). When no alternation exists (one artist left), order is kept.
    Deterministic: the current order is the only preference.
    """
    order = _spread_order(*codes_of(playlist, "user", "artist"))
    return playlist.take(order).reset_index(drop=True)


def _spread_order(user: np.ndarray, artist: np.ndarray) -> np.ndarray:
    """:func:`spread_artists`' row order."""
    if not len(user):
        return np.arange(0)
    layout = _layout(user)
    valid = layout >= 0
    pairs = dense_rank(pack([user, artist]))
    first = np.full(int(user.max()) + 1, len(pairs), dtype=np.int64)
    np.minimum.at(first, user, pairs)
    local = pairs - first[user]  # the artist's number within its listener's playlist
    # Positions × playlists: every step's reductions run across all playlists at once.
    width, n_groups = layout.shape[1], layout.shape[0]
    small = np.min_scalar_type(-4 * width)  # artist numbers, counts, keys: less memory to stream
    valid = valid.T
    code = np.where(valid, local[np.where(valid, layout.T, 0)], 0).astype(small)
    groups = np.arange(n_groups)
    cell = code.astype(np.int64) * n_groups + groups  # (artist number, playlist) → counter
    remaining = np.bincount(cell[valid], minlength=width * n_groups).astype(small)
    avail = valid.copy()
    left = valid.sum(axis=0)
    prev = np.full(n_groups, -1, dtype=small)
    later = np.arange(width - 1, -1, -1, dtype=small)[:, None]  # earlier position, larger key
    order = np.full((n_groups, width), -1, dtype=np.int64)
    for step in range(width):
        other = avail & (code != prev)
        forced = other & (remaining[cell] > left // 2)  # its artist holds over half the rest
        # The first forced track, else the first of another artist, else the first left.
        priority = avail.view(np.int8) + other.view(np.int8) + forced.view(np.int8)
        best = (priority.astype(small) * width + later).max(axis=0)
        pick = (width - 1) - best % width
        has = best >= width
        order[has, step] = pick[has]
        avail[pick[has], groups[has]] = False
        picked = cell[pick, groups][has]
        remaining[picked] -= 1
        left -= has
        prev = np.where(has, code[pick, groups], prev)
    return _reordered(layout, order)


def number_tracks(playlist: pd.DataFrame) -> pd.DataFrame:
    """Add ``rank``: each track's place in its listener's playlist as ordered, from 1."""
    return with_columns(playlist, rank=cumcount(codes_of(playlist, "user")) + 1)
