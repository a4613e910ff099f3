"""Steps from artists to tracks: the track table per artist, and each recommendation's tracks."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from ..grouping import cumcount, dense_rank, lexorder, pack
from ..names import COMBINING_MARKS
from .keys import codes_of, joint_codes, key_codes, labelled_codes

TRACK_TABLE_COLUMNS: tuple[str, ...] = (
    "artist",
    "track_id",
    "track_name",
    "title_key",
    "popularity",
    "tempo",
    "valence",
    "track_rank",
)
# Version markers that make two titles the same song for a playlist ("- Remastered 2011",
# "(Live)", "(feat. X)", "- Radio Edit", "[Mono]"...). Remixes stay distinct songs.
_VERSION_WORDS = (
    r"remaster(?:ed)?|live|feat\.?|ft\.?|featuring|with|radio edit|edit|single version|"
    r"album version|version|mono|stereo|explicit|clean|bonus track|deluxe|anniversary"
)
_BRACKETED_VERSION = rf"\s*[\(\[][^\)\]]*\b(?:{_VERSION_WORDS})(?![\w])[^\)\]]*[\)\]]"
_DASHED_VERSION = rf"\s+[-–—]\s+.*\b(?:{_VERSION_WORDS})(?![\w]).*$"


def normalise_titles(titles: pd.Series) -> pd.Series:
    """Song key of each title: version markers, case, accents and punctuation removed.

    "Karma Police - Remastered 2011", "Karma Police (Live)" and "karma police!" share one key.
    Computed once per distinct title; a title that would become empty keeps its folded spelling.
    """
    uniques = pd.Series(titles.dropna().unique(), dtype=object)
    if uniques.empty:
        return pd.Series(pd.NA, index=titles.index, dtype=object)
    text = uniques.astype(str)
    stripped = text.str.replace(_BRACKETED_VERSION, "", regex=True, flags=re.IGNORECASE)
    stripped = stripped.str.replace(_DASHED_VERSION, "", regex=True, flags=re.IGNORECASE)
    folded = (
        stripped.str.normalize("NFKD").str.replace(COMBINING_MARKS, "", regex=True).str.casefold()
    )
    key = folded.str.replace(r"[\W_]+", " ", regex=True).str.strip()
    key = key.where(key.str.len() > 0, text.str.casefold().str.strip())
    return titles.map(dict(zip(uniques, key, strict=True)))


def artist_tracks(
    catalog_ids: pd.DataFrame,
    tracks: pd.DataFrame,
    per_artist: int,
    *,
    credits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Candidate tracks per artist key, matched by Spotify artist id on every credit.

    ``catalog_ids``: ``artist, spotify_id`` (artist_catalog); ``tracks``: the spotify_tracks
    canonical table; ``credits``: its ``track_id, artist_id`` pairs as ``catalog.track_credits``
    resolves them (default: the ids listed on each track). A track counts for each credited id
    (featured credits too). Per artist, one version per song (most popular), then the
    ``per_artist`` most popular songs; ties go to the smaller track id so the choice never depends
    on file order. This is the ``artist_tracks`` asset, which the web page reads.
    """
    ids = catalog_ids[["artist", "spotify_id"]].dropna().drop_duplicates("artist")
    cols = ["track_id", "track_name", "popularity", "tempo", "valence"]
    if credits is None:
        credits = tracks[["track_id", "artist_ids"]].explode("artist_ids", ignore_index=True)
        credits = credits.rename(columns={"artist_ids": "artist_id"})
    credits = credits[["track_id", "artist_id"]].dropna().drop_duplicates()
    pairs = credits.merge(ids, left_on="artist_id", right_on="spotify_id", how="inner")
    pairs = pairs.merge(tracks[cols], on="track_id", how="inner")
    pairs["title_key"] = normalise_titles(pairs["track_name"]).fillna(pairs["track_id"])
    pairs = pairs.sort_values(
        ["artist", "popularity", "track_id"], ascending=[True, False, True], na_position="last"
    )
    pairs = pairs.drop_duplicates(["artist", "title_key"])
    pairs["track_rank"] = pairs.groupby("artist").cumcount() + 1
    pairs = pairs[pairs["track_rank"] <= per_artist]
    return pairs[list(TRACK_TABLE_COLUMNS)].reset_index(drop=True)


def top_artists(recs: pd.DataFrame, n: int) -> pd.DataFrame:
    """Each listener's ``n`` best recommended artists by score (ties: artist), best first: the
    artists whose tracks the playlist considers."""
    user, artist = codes_of(recs, "user", "artist")
    rows = _top_rows(user, recs["score"].to_numpy(dtype=float), artist, n)
    return recs.take(rows).reset_index(drop=True)


def _top_rows(user: np.ndarray, score: np.ndarray, artist: np.ndarray, n: int) -> np.ndarray:
    """:func:`top_artists`' rows, in its order."""
    top = lexorder([user, dense_rank(-score), artist])
    return top[cumcount([user[top]]) < n]


@dataclasses.dataclass(frozen=True)
class TrackIndex:
    """A track table's rows by artist code, for :func:`expand_tracks` over many listeners."""

    by_artist: tuple[np.ndarray, ...]  # :func:`_artist_groups`
    tie: np.ndarray  # each table row's place in (track id, artist) order


def track_index(track_table: pd.DataFrame) -> TrackIndex:
    """The :class:`TrackIndex` of a table whose artist codes are the recommendations' (integer
    codes, or categoricals over the same sorted categories): the batch builds it once."""
    artist, labels = labelled_codes(track_table["artist"])
    n_artists = len(labels) if labels is not None else int(artist.max(initial=-1)) + 1
    return _track_index(artist, key_codes(track_table["track_id"]), n_artists)


def _track_index(artist: np.ndarray, track: np.ndarray, n_artists: int) -> TrackIndex:
    tie = dense_rank(
        pack([track, np.where((artist >= 0) & (artist < n_artists), artist, n_artists)])
    )
    return TrackIndex(_artist_groups(artist, n_artists), tie)


def expand_tracks(
    recs: pd.DataFrame, track_table: pd.DataFrame, *, index: TrackIndex | None = None
) -> pd.DataFrame:
    """Each recommended (user, artist, score) → its artist's candidate tracks (exact key join).

    Rows in (listener, track id, artist) order, the order in which the ranking breaks score
    ties, so that it then sorts by score alone. ``index``: :func:`track_index` of
    ``track_table``, when the keys are codes of one vocabulary (the batch expands every chunk of
    listeners against one table).
    """
    if index is None:
        rec_artist, table_artist, n_artists = joint_codes(recs["artist"], track_table["artist"])
        index = _track_index(table_artist, key_codes(track_table["track_id"]), n_artists)
    else:
        rec_artist = key_codes(recs["artist"])
    rec_row, table_row = _expand(rec_artist, index.by_artist)
    order = lexorder([key_codes(recs["user"])[rec_row], index.tie[table_row]])
    rec_row, table_row = rec_row[order], table_row[order]
    columns = {c: recs[c].array.take(rec_row) for c in ("user", "artist", "score")}
    for c in track_table.columns.drop("artist"):
        columns[c] = track_table[c].array.take(table_row)
    return pd.DataFrame(columns, copy=False)


def _artist_groups(table_artist: np.ndarray, n_artists: int) -> tuple[np.ndarray, ...]:
    """Table rows grouped by artist code (table order within each), and where each code's
    group starts in that order and how long it is. Codes outside ``[0, n_artists)`` (missing)
    join nothing."""
    rows = np.flatnonzero((table_artist >= 0) & (table_artist < n_artists))
    order = rows[lexorder([table_artist[rows]])]
    count = np.bincount(table_artist[rows], minlength=n_artists)
    return order, np.cumsum(count) - count, count


def _expand(rec_artist: np.ndarray, groups: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """(rec row, table row) of every match on artist code, in inner-merge order."""
    order, first, count = groups
    known = (rec_artist >= 0) & (rec_artist < len(count))
    at = np.where(known, rec_artist, 0)
    per = np.where(known, count[at], 0)
    rec_row = np.repeat(np.arange(len(rec_artist)), per)
    start = np.repeat(first[at] - (np.cumsum(per) - per), per)
    return rec_row, order[start + np.arange(len(rec_row))]
