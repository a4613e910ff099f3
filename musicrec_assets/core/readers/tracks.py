"""Spotify track sources -> the canonical `spotify_tracks` table, one reader per format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import SourceConfig
from ..errors import InputError
from ..schema import AUDIO_FEATURES, SPOTIFY_TRACK_COLUMNS
from .files import resolve_files
from .lists import parse_list_column
from .report import ReadReport, _check_nonempty, _Tally
from .tables import Column, _canonical_frame, _delimiter, _read_single_table, read_csv_table
from .values import _feature_columns, _float_block, _name_column, _numbers, _skip_masks

_TRACKS_600K = (
    Column("id", ("id",)),
    Column("name", ("name",)),
    Column("artists", ("artists",)),
    Column("id_artists", ("id_artists",)),
    Column("popularity", ("popularity",), required=False),
    Column("explicit", ("explicit",), required=False),
    Column("release_date", ("release_date",), required=False),
    *_feature_columns(AUDIO_FEATURES),
)


def _read_600k_tracks(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Kaggle 600k `tracks.csv`; `artists`/`id_artists` are list strings of equal length."""
    tally = _Tally()
    table = _read_single_table(src, _TRACKS_600K, tally)
    frame = table.frame
    track_id = frame["id"].str.strip()
    name = _name_column(frame["name"], "track names", tally)
    names, bad_names = parse_list_column(frame["artists"])
    ids, bad_ids = parse_list_column(frame["id_artists"])
    tally.note("malformed list cells (parsed tolerantly)", bad_names + bad_ids)
    n_names = names.str.len().to_numpy()
    n_ids = ids.str.len().to_numpy()
    keep = _skip_masks(
        tally,
        len(frame),
        [
            ("blank track id", (track_id == "").to_numpy()),
            ("blank track name", (name == "").to_numpy()),
            ("no credited artist", (n_ids == 0) | (n_names == 0)),
            ("artists and id_artists differ in length", n_names != n_ids),
        ],
    )
    dup = track_id.duplicated().to_numpy() & keep
    tally.skip("duplicate track id (first kept)", int(dup.sum()))
    keep &= ~dup
    nums = _float_block(table, ("popularity", *AUDIO_FEATURES), tally, keep)
    explicit = np.full(int(keep.sum()), np.nan)
    if "explicit" in frame:
        text = frame["explicit"][keep].str.strip().str.lower()
        mapped = text.map({"true": "1", "false": "0"}).fillna(text)
        explicit = _numbers(mapped, table, table.found["explicit"], tally, int(keep.sum()))
    year = np.full(int(keep.sum()), np.nan)
    if "release_date" in frame:
        year = _release_year(frame["release_date"][keep])
    cols: dict[str, object] = {
        "track_id": track_id[keep].to_numpy(dtype=object),
        "track_name": name[keep].to_numpy(dtype=object),
        "artist_ids": ids[keep].to_numpy(dtype=object),
        "artist_names": names[keep].to_numpy(dtype=object),
        "explicit": explicit,
        "release_year": year,
        **nums,
    }
    out = _canonical_frame(cols, SPOTIFY_TRACK_COLUMNS, text=2, first_float=4)
    _check_nonempty(src, tally, len(out))
    return out, tally.report(src, len(out), 1)


def _release_year(values: pd.Series) -> np.ndarray:
    """ "1999" / "1999-03" / "1999-03-04" -> 1999.0; anything else -> NaN."""
    arr = pc.utf8_trim_whitespace(pa.array(values.astype("str"), from_pandas=True))
    ok = pc.fill_null(pc.match_substring_regex(arr, r"^\d{4}(\D|$)"), False)
    head = pc.if_else(ok, pc.utf8_slice_codeunits(arr, 0, 4), pa.scalar(None, arr.type))
    return pc.cast(head, pa.float64()).to_numpy(zero_copy_only=False)


_TRACK_TABLE = (
    Column("track", ("track", "track_name", "name")),
    Column("artist", ("artist", "artists", "artist_name")),
    Column("uri", ("uri", "track_uri", "id")),
    *_feature_columns(AUDIO_FEATURES),
)
# Credits split only on featuring markers; "&", "and", "with", "x" also occur inside band names.
_FEAT_RE = r"(?i)\s+\(?(?:featuring|feat\.|ft\.)\s+"
_URI_RE = r"^(?:spotify:track:|https?://open\.spotify\.com/track/)?([0-9A-Za-z]{22})(?:\?.*)?$"


def split_credit(values: pd.Series) -> pd.Series:
    """`"A Featuring B"` / `"A feat. B"` / `"A ft. B"` / `"A (feat. B)"` -> [A, B] (list column).

    Conservative on purpose: "&", "and", "With" and "x" are left alone because they are part of
    many single names ("Simon & Garfunkel", "Africans with Mainframes").
    """
    arr = pa.array(values.astype("str").fillna(""), from_pandas=True)
    parts = pc.split_pattern_regex(arr, _FEAT_RE)
    out = np.fromiter(parts.to_pylist(), dtype=object, count=len(arr))
    multi = np.flatnonzero(pc.list_value_length(parts).to_numpy(zero_copy_only=False) > 1)
    for i in multi:  # only the few multi-artist credits need tidying
        items = [p.strip().removesuffix(")").strip() for p in out[i]]
        out[i] = [p for p in items if p]
    return pd.Series(out, index=values.index, dtype=object)


def _read_track_table(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Hit Predictor layout (`track, artist, uri, features..., target`); path may be a glob.

    Name-keyed: artist ids are the credited names. The same uri in several files is kept once
    (first file in sorted order), counted.
    """
    tally = _Tally()
    files = resolve_files(src.path)
    parts = []
    for path in files:
        table = read_csv_table(path, _TRACK_TABLE, sep=_delimiter(src, ","), encoding=src.encoding)
        tally.encodings.append(table.encoding)
        tally.rows_read += table.rows_read
        tally.skip("repeated header line", table.repeated_headers)
        if table.rows_read == 0 and len(files) > 1:
            tally.note("files with no data rows", 1)
        frame = table.frame
        name = _name_column(frame["track"], "track names", tally)
        artist = _name_column(frame["artist"], "artist names", tally)
        track_id = frame["uri"].str.strip().str.extract(_URI_RE, expand=False)
        keep = _skip_masks(
            tally,
            len(frame),
            [
                ("blank track name", (name == "").to_numpy()),
                ("blank artist name", (artist == "").to_numpy()),
                ("unparsable uri", track_id.isna().to_numpy()),
            ],
        )
        credits = split_credit(artist[keep])
        tally.note(
            "multi-artist credits split on feat./featuring/ft.", int((credits.str.len() > 1).sum())
        )
        nums = _float_block(table, AUDIO_FEATURES, tally, keep)
        nan = np.full(int(keep.sum()), np.nan)
        cols: dict[str, object] = {
            "track_id": track_id[keep].to_numpy(dtype=object),
            "track_name": name[keep].to_numpy(dtype=object),
            "artist_ids": credits.to_numpy(dtype=object),
            "artist_names": credits.to_numpy(dtype=object),
            "popularity": nan,
            "explicit": nan,
            "release_year": nan,
            **nums,
        }
        parts.append(_canonical_frame(cols, SPOTIFY_TRACK_COLUMNS, text=2, first_float=4))
    out = pd.concat(parts, ignore_index=True)
    dup = out["track_id"].duplicated().to_numpy()
    tally.skip("duplicate uri (first file kept)", int(dup.sum()))
    out = out.loc[~dup].reset_index(drop=True)
    _check_nonempty(src, tally, len(out))
    return out, tally.report(src, len(out), len(files))


_TRACK_READERS = {
    "spotify_600k_tracks": _read_600k_tracks,
    "spotify_track_table": _read_track_table,
}


def read_tracks(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Read a Spotify track source into the canonical `spotify_tracks` table (+ what happened)."""
    reader = _TRACK_READERS.get(src.format)
    if reader is None:
        raise InputError(src.path, f"unknown tracks format {src.format!r}")
    return reader(src)
