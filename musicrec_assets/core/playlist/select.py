"""Selection steps over scored candidates: rank by score, dedupe, cap per artist, take the top.

:func:`group_candidates` finds the groups the selection works within (same track, same song,
same artist), which do not depend on the scores, so the batch finds them once for every
context. :func:`rank_by_score` sorts once; the three filters then keep the order
(``ranked=True``), as the batch calls them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..grouping import cumcount, dense_rank, lexorder, pack, runs
from .keys import codes_of, key_codes, with_columns
from .tracks import normalise_titles

# Columns of :func:`group_candidates`: dedupe's groups (-1: no other row) and the cap's group.
GROUP_COLUMNS = ("same_track", "same_song", "listener_artist")


def group_candidates(cands: pd.DataFrame) -> pd.DataFrame:
    """Add :data:`GROUP_COLUMNS`: ``same_track`` numbers the rows sharing (listener, track id)
    and ``same_song`` those sharing (listener, artist, title), both -1 on a row that shares with
    none; ``listener_artist`` numbers (listener, artist). Titles: ``title_key``, else
    :func:`normalise_titles` of ``track_name``."""
    if "title_key" in cands.columns:
        title = cands["title_key"]
    else:
        title = normalise_titles(cands["track_name"]).fillna(cands["track_id"])
    user, artist, track = codes_of(cands, "user", "artist", "track_id")
    same = {}
    for name, keys in (
        ("same_track", [user, track]),
        ("same_song", [user, artist, key_codes(title)]),
    ):
        order, start = runs(keys)
        size = np.diff(np.append(np.flatnonzero(start), len(order)))
        shared = np.repeat(size > 1, size)
        group = np.full(len(order), -1, dtype=np.int64)
        group[order[shared]] = (np.cumsum(start) - 1)[shared]
        same[name] = group
    return with_columns(cands, **same, listener_artist=dense_rank(pack([user, artist])))


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


def rank_by_score(cands: pd.DataFrame) -> pd.DataFrame:
    """The rows best first within each listener (``final``; ties: track id, then artist)."""
    user, track, artist = codes_of(cands, "user", "track_id", "artist")
    order = _score_order(user, cands["final"].to_numpy(dtype=float), track, artist)
    return cands.take(order).reset_index(drop=True)


def dedupe(cands: pd.DataFrame, *, ranked: bool = False) -> pd.DataFrame:
    """Keep one row per song per listener: same track id, or same artist + normalised title.

    The best-scored version survives (a track featured under two recommended artists, or a
    remaster next to its original); rows sharing a track id first, then rows sharing a song
    among those left. ``ranked=True``: ``cands`` is in :func:`rank_by_score` order already (the
    output of this step and the next two is). Reads :func:`group_candidates`' columns when
    present.
    """
    df = cands if ranked else rank_by_score(cands)
    groups = df if "same_song" in df.columns else group_candidates(df)
    keep = np.ones(len(df), dtype=bool)
    for col in ("same_track", "same_song"):
        group = groups[col].to_numpy()
        rows = np.flatnonzero((group >= 0) & keep)  # in score order: the first is the best
        keep[rows[~_first_of_group(group[rows])]] = False
    return _kept(df, keep)


def _kept(df: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows where ``keep`` is True, renumbered (no copy when all are)."""
    return (df if keep.all() else df[keep]).reset_index(drop=True)


def _first_of_group(group: np.ndarray) -> np.ndarray:
    """True on the first row of each group number (the numbers are few and dense)."""
    first = np.full(int(group.max(initial=-1)) + 1, len(group))
    np.minimum.at(first, group, np.arange(len(group)))
    return first[group] == np.arange(len(group))


def cap_per_artist(cands: pd.DataFrame, cap: int = 2, *, ranked: bool = False) -> pd.DataFrame:
    """At most ``cap`` tracks per artist per listener, keeping each artist's best-scored ones."""
    df = cands if ranked else rank_by_score(cands)
    if "listener_artist" in df.columns:
        keys = [df["listener_artist"].to_numpy()]
    else:
        keys = codes_of(df, "user", "artist")
    return _kept(df, cumcount(keys) < cap)


def take_top(cands: pd.DataFrame, length: int, *, ranked: bool = False) -> pd.DataFrame:
    """The ``length`` best-scored tracks per listener: the playlist's content, before ordering."""
    df = cands if ranked else rank_by_score(cands)
    return _kept(df, cumcount(codes_of(df, "user")) < length)
