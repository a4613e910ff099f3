"""Steps from artists to tracks: the track table per artist, and each recommendation's tracks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..grouping import (
    lexorder,
)
from .keys import _categorize

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
_COMBINING = r"[\u0300-\u036f]"


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
    folded = stripped.str.normalize("NFKD").str.replace(_COMBINING, "", regex=True).str.casefold()
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


def expand_tracks(recs: pd.DataFrame, track_table: pd.DataFrame) -> pd.DataFrame:
    """Each recommended (user, artist, score) → its artist's candidate tracks (exact key join).

    Rows keep the order of ``recs``, each artist's tracks in table order (an inner merge's
    order); later steps order by score with explicit tie-breaks.
    """
    rec_artist, table_artist = _categorize([recs["artist"], track_table["artist"]])
    rec_row, table_row = _expand(
        rec_artist.cat.codes.to_numpy(),
        _artist_groups(table_artist.cat.codes.to_numpy(), len(rec_artist.cat.categories)),
    )
    left = recs[["user", "artist", "score"]].iloc[rec_row].reset_index(drop=True)
    right = track_table.drop(columns="artist").iloc[table_row].reset_index(drop=True)
    return pd.concat([left, right], axis=1)


def _artist_groups(table_artist: np.ndarray, n_artists: int) -> tuple[np.ndarray, ...]:
    """Table rows grouped by artist code (table order within each), and where each code's
    group starts in that order and how long it is. Missing codes (-1) join nothing."""
    rows = np.flatnonzero(table_artist >= 0)
    order = rows[lexorder([table_artist[rows]])]
    count = np.bincount(table_artist[rows], minlength=n_artists)
    return order, np.cumsum(count) - count, count


def _expand(rec_artist: np.ndarray, groups: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """(rec row, table row) of every match on artist code, in inner-merge order."""
    order, first, count = groups
    per = np.where(rec_artist >= 0, count[np.maximum(rec_artist, 0)], 0)
    rec_row = np.repeat(np.arange(len(rec_artist)), per)
    start = np.repeat(first[np.maximum(rec_artist, 0)] - (np.cumsum(per) - per), per)
    return rec_row, order[start + np.arange(len(rec_row))]
