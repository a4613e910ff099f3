"""Spotify artist sources -> the canonical `spotify_artists` table, one reader per format."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import InputError
from ..schema import AUDIO_FEATURES, SPOTIFY_ARTIST_COLUMNS
from .files import _single_file
from .lists import parse_list_column
from .report import ReadReport, _check_nonempty, _Tally
from .tables import Column, _canonical_frame, _delimiter, _read_single_table, read_csv_table
from .values import _feature_columns, _float_block, _name_column, _skip_masks, clean_names


def _empty_lists(n: int) -> np.ndarray:
    """An object array of n distinct empty lists (numpy would broadcast a list of lists)."""
    return np.fromiter(([] for _ in range(n)), dtype=object, count=n)


_ARTISTS_600K = (
    Column("id", ("id",)),
    Column("name", ("name",)),
    Column("genres", ("genres",), required=False),
    Column("followers", ("followers",), required=False),
    Column("popularity", ("popularity",), required=False),
)


def _read_600k_artists(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Kaggle 600k `artists.csv`: id, followers, genres (list string), name, popularity."""
    tally = _Tally()
    table = _read_single_table(src, _ARTISTS_600K, tally)
    frame = table.frame
    art_id = frame["id"].str.strip()
    name = _name_column(frame["name"], "artist names", tally)
    keep = _skip_masks(
        tally,
        len(frame),
        [
            ("blank artist id", (art_id == "").to_numpy()),
            ("blank artist name", (name == "").to_numpy()),
            ("duplicate artist id (first kept)", art_id.duplicated().to_numpy()),
        ],
    )
    n = int(keep.sum())
    if "genres" in frame:
        genres, bad = parse_list_column(frame["genres"][keep])
        tally.note("malformed list cells (parsed tolerantly)", bad)
    else:
        genres = pd.Series(_empty_lists(n), dtype=object)
    nums = _float_block(table, ("followers", "popularity"), tally, keep)
    nan = np.full(n, np.nan)
    cols: dict[str, object] = {
        "artist_id": art_id[keep].to_numpy(dtype=object),
        "artist_name": name[keep].to_numpy(dtype=object),
        "genres": genres.to_numpy(dtype=object),
        "n_tracks": nan,
        **{f: nan for f in AUDIO_FEATURES},
        **nums,
    }
    out = _canonical_frame(cols, SPOTIFY_ARTIST_COLUMNS, text=2, first_float=3)
    _check_nonempty(src, tally, len(out))
    return out, tally.report(src, len(out), 1)


_ARTIST_TABLE = (
    Column("name", ("artists", "artist", "artist_name", "name")),
    Column("genres", ("genres",), required=False),
    Column("popularity", ("popularity",), required=False),
    Column("count", ("count", "n_tracks"), required=False),
    *_feature_columns(AUDIO_FEATURES),
)


def _genres_table(src: SourceConfig, tally: _Tally) -> pd.Series:
    """`artists,genres` side table -> Series of genre lists indexed by exact (cleaned) name."""
    assert src.genres_path is not None
    path = _single_file(src.genres_path, "genres_path")
    table = read_csv_table(
        path,
        (Column("name", ("artists", "artist", "name")), Column("genres", ("genres",))),
        sep=_delimiter(src, ","),
        encoding=src.encoding,
    )
    tally.encodings.append(table.encoding)
    name, _, _ = clean_names(table.frame["name"])
    genres, bad = parse_list_column(table.frame["genres"])
    tally.note("malformed list cells in genres_path (parsed tolerantly)", bad)
    usable = (name != "").to_numpy()
    series = pd.Series(genres[usable].to_numpy(), index=name[usable].to_numpy(), dtype=object)
    dup = series.index.duplicated()
    tally.note("genres_path duplicate names (first kept)", int(dup.sum()))
    return series[~dup]


def _read_artist_table(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Per-artist feature means (`data_by_artist.csv` layout); name-keyed (id = name).

    Genres come from a `genres` column, else from `src.genres_path` joined on the exact name.
    Names are compared after trimming, so "Anonymous" and "Anonymous\\xa0" are one artist: of
    duplicated names the row with the larger `count` (tracks) is kept, counted.
    """
    tally = _Tally()
    table = _read_single_table(src, _ARTIST_TABLE, tally)
    frame = table.frame
    name = _name_column(frame["name"], "artist names", tally)
    keep = _skip_masks(tally, len(frame), [("blank artist name", (name == "").to_numpy())])
    nums = _float_block(table, ("popularity", "count", *AUDIO_FEATURES), tally, keep)
    kept_names = name[keep].reset_index(drop=True)
    count = pd.Series(nums["count"]).fillna(-1.0)
    order = pd.DataFrame({"name": kept_names, "count": count}).sort_values(
        ["count"], ascending=False, kind="stable"
    )
    dup_sorted = order["name"].duplicated()
    winners = np.zeros(len(kept_names), dtype=bool)
    winners[order.index[~dup_sorted.to_numpy()]] = True
    tally.skip("duplicate artist name (row with the larger count kept)", int((~winners).sum()))
    n = int(winners.sum())
    if "genres" in frame:
        genres, bad = parse_list_column(frame["genres"][keep].reset_index(drop=True)[winners])
        tally.note("malformed list cells (parsed tolerantly)", bad)
        genres = genres.to_numpy(dtype=object)
    elif src.genres_path is not None:
        lookup = _genres_table(src, tally)
        got = lookup.reindex(kept_names[winners].to_numpy()).to_numpy(dtype=object)
        has = np.array([isinstance(g, list) for g in got], dtype=bool)
        tally.note("artists with a genres_path entry", int(has.sum()))
        genres = _empty_lists(n)
        genres[has] = got[has]
    else:
        genres = _empty_lists(n)
    nan = np.full(n, np.nan)
    cols: dict[str, object] = {
        "artist_id": kept_names[winners].to_numpy(dtype=object),
        "artist_name": kept_names[winners].to_numpy(dtype=object),
        "genres": genres,
        "popularity": nums["popularity"][winners],
        "followers": nan,
        "n_tracks": nums["count"][winners],
        **{f: nums[f][winners] for f in AUDIO_FEATURES},
    }
    out = _canonical_frame(cols, SPOTIFY_ARTIST_COLUMNS, text=2, first_float=3)
    _check_nonempty(src, tally, len(out))
    return out, tally.report(src, len(out), 1 + (src.genres_path is not None))


_ARTIST_READERS = {
    "spotify_600k_artists": _read_600k_artists,
    "spotify_artist_table": _read_artist_table,
}


def read_artists(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Read a Spotify artist source into the canonical `spotify_artists` table (+ what happened)."""
    reader = _ARTIST_READERS.get(src.format)
    if reader is None:
        raise InputError(src.path, f"unknown artists format {src.format!r}")
    return reader(src)
