"""Selection steps over scored candidates: dedupe, cap per artist, take the top."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..grouping import (
    cumcount,
    dense_rank,
    lexorder,
    pack,
    runs,
)
from .keys import _keys
from .tracks import normalise_titles


def _score_order(
    user: np.ndarray, final: np.ndarray, track: np.ndarray, artist: np.ndarray
) -> np.ndarray:
    """Best first within each listener; track id, then artist, break ties reproducibly.

    Rows already in (listener, track id, artist) order, as the batch keeps its candidates, are
    sorted by score, then stably by listener, and only runs of equal scores are put back in row
    order; other rows are ranked on all four keys.
    """
    tie = pack([user, track, artist])
    if not (len(tie) and (tie[1:] >= tie[:-1]).all()):
        return lexorder([user, dense_rank(-final), track, artist])
    order = np.argsort(-final)
    listener = user[order]
    if len(listener) and listener.max() < 2**16:
        listener = listener.astype(np.uint16)  # a stable sort of 16-bit keys is a radix sort
    order = order[np.argsort(listener, kind="stable")]
    ranked, listener = final[order], user[order]
    tied = (listener[1:] == listener[:-1]) & (
        (ranked[1:] == ranked[:-1]) | (np.isnan(ranked[1:]) & np.isnan(ranked[:-1]))
    )
    if tied.any():  # positions i and i + 1 tie: sort each run of ties by row number
        in_run = np.zeros(len(order), dtype=bool)
        in_run[:-1] |= tied
        in_run[1:] |= tied
        starts = in_run.copy()
        starts[1:] &= ~tied
        at = np.flatnonzero(in_run)
        run = np.cumsum(starts)[at]
        order[at] = order[at][lexorder([run, order[at]])]
    return order


def _by_score(df: pd.DataFrame) -> pd.DataFrame:
    """The rows in :func:`_score_order`."""
    user, track, artist = _keys(df, "user", "track_id", "artist")
    order = _score_order(user, df["final"].to_numpy(dtype=float), track, artist)
    return df.take(order).reset_index(drop=True)


def dedupe(cands: pd.DataFrame, *, ranked: bool = False) -> pd.DataFrame:
    """Keep one row per song per listener: same track id, or same artist + normalised title.

    The best-scored version survives (a track featured under two recommended artists, or a
    remaster next to its original). ``ranked=True``: ``cands`` is already in score order (the
    output of this step and the next two is), which saves a sort over millions of batch rows.
    """
    df = cands if ranked else _by_score(cands)
    if "title_key" not in df.columns:
        df = df.assign(title_key=normalise_titles(df["track_name"]).fillna(df["track_id"]))
    groups = _song_groups(*_keys(df, "user", "artist", "track_id", "title_key"))
    return df[_unique_songs(groups, np.arange(len(df)))].reset_index(drop=True)


def _song_groups(
    user: np.ndarray, artist: np.ndarray, track: np.ndarray, title: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows :func:`dedupe` may drop: those sharing (listener, track), then those sharing
    (listener, artist, title), each as (rows grouped, group number). They do not depend on the
    scores, so the batch finds them once for all contexts."""
    groups = []
    for keys in ([user, track], [user, artist, title]):
        order, start = runs(keys)
        size = np.diff(np.append(np.flatnonzero(start), len(order)))
        shared = np.repeat(size > 1, size)
        groups.append((order[shared], (np.cumsum(start) - 1)[shared]))
    return groups


def _unique_songs(groups: list[tuple[np.ndarray, np.ndarray]], rank: np.ndarray) -> np.ndarray:
    """:func:`dedupe`'s rows to keep: in each group of :func:`_song_groups`, the row of lowest
    ``rank`` (score order), the second grouping among the first's survivors."""
    keep = np.ones(len(rank), dtype=bool)
    for rows, group in groups:
        alive = keep[rows]
        rows, group = rows[alive], group[alive]
        best = np.full(int(group.max(initial=-1)) + 1, len(rank))
        np.minimum.at(best, group, rank[rows])
        keep[rows[rank[rows] > best[group]]] = False
    return keep


def cap_per_artist(cands: pd.DataFrame, cap: int = 2, *, ranked: bool = False) -> pd.DataFrame:
    """At most ``cap`` tracks per artist per listener, keeping each artist's best-scored ones."""
    df = cands if ranked else _by_score(cands)
    return df[_capped(_keys(df, "user", "artist"), cap)].reset_index(drop=True)


def _capped(keys: Sequence[np.ndarray], cap: int) -> np.ndarray:
    """:func:`cap_per_artist`'s rows to keep, over rows in score order."""
    return cumcount(keys) < cap


def take_top(cands: pd.DataFrame, length: int, *, ranked: bool = False) -> pd.DataFrame:
    """The ``length`` best-scored tracks per listener: the playlist's content, before ordering."""
    df = cands if ranked else _by_score(cands)
    return df[_topped(*_keys(df, "user"), length)].reset_index(drop=True)


def _topped(user: np.ndarray, length: int) -> np.ndarray:
    """:func:`take_top`'s rows to keep, over rows in score order."""
    return cumcount([user]) < length


def _select(
    user: np.ndarray,
    track: np.ndarray,
    artist: np.ndarray,
    final: np.ndarray,
    songs: list[tuple[np.ndarray, np.ndarray]],
    pair: np.ndarray,
    cap: int,
    length: int,
) -> np.ndarray:
    """Rows of each playlist's content in score order: :func:`dedupe` (``songs``: its
    :func:`_song_groups`), then :func:`cap_per_artist` (``pair``: a listener-artist number),
    then :func:`take_top`, on arrays."""
    rows = _score_order(user, final, track, artist)
    rank = np.empty(len(rows), dtype=np.int64)
    rank[rows] = np.arange(len(rows))
    rows = rows[_unique_songs(songs, rank)[rows]]
    rows = rows[_capped([pair[rows]], cap)]
    return rows[_topped(user[rows], length)]
