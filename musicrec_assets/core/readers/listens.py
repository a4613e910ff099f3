"""Listening-history sources -> the canonical `listens` table, one reader per format."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import InputError
from ..schema import LISTENS_COLUMNS
from .files import (
    _single_file,
    check_not_empty,
    detect_encoding,
    find_member,
    require_folder,
    resolve_files,
)
from .id_files import _aliases, _id_name_lines
from .report import ReadReport, _check_nonempty, _Tally
from .tables import (
    Column,
    Table,
    _delimiter,
    _read_parquet_table,
    read_csv_guarded,
    read_csv_table,
)
from .values import (
    _UTC_NS,
    _date_and_time,
    _first,
    _name_column,
    _plays,
    _timestamps,
    _to_float,
    _unix_seconds,
)

PLACEHOLDER = "artist:{}"  # name of an artist id the source never names


def _listens_part(
    table: Table,
    tally: _Tally,
    *,
    user: pd.Series | str,
    played_at: pd.Series | None,
) -> pd.DataFrame:
    """Common tail of the row-per-listen formats: clean names, skip blanks, parse plays."""
    frame = table.frame
    tally.rows_read += table.rows_read
    tally.skip("repeated header line", table.repeated_headers)
    n = len(frame)
    users = (
        pd.Series(user, index=frame.index, dtype="str")
        if isinstance(user, str)
        else _name_column(user, "user names", tally)
    )
    artists = _name_column(frame["artist"], "artist names", tally)
    keep = np.ones(n, dtype=bool)
    for reason, mask in (
        ("blank user name", (users == "").to_numpy()),
        ("blank artist name", (artists == "").to_numpy()),
    ):
        hit = mask & keep
        tally.skip(reason, int(hit.sum()))
        keep &= ~hit
    if "plays" in frame:
        plays = np.zeros(n, dtype="int64")
        plays[keep] = _plays(frame["plays"][keep], table, table.found["plays"])
        zero = keep & (plays == 0)
        tally.skip("zero plays", int(zero.sum()))
        keep &= ~zero
    else:
        plays = np.ones(n, dtype="int64")
    if "track" in frame:
        tracks = _name_column(frame["track"], "track names", tally)
        tracks = tracks.where(tracks != "")
    else:
        tracks = pd.Series(np.nan, index=frame.index, dtype="str")
    if played_at is None:
        played_at = pd.Series(pd.NaT, index=frame.index, dtype=_UTC_NS)
    return pd.DataFrame(
        {
            "user": users[keep],
            "artist_name": artists[keep],
            "track": tracks[keep],
            "plays": plays[keep],
            "played_at": played_at[keep],
        }
    )


def _finish_listens(
    parts: Sequence[pd.DataFrame], src: SourceConfig, tally: _Tally, files: int
) -> tuple[pd.DataFrame, ReadReport]:
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    _check_nonempty(src, tally, len(out))
    out = pd.DataFrame(
        {
            "user": out["user"].astype("str"),
            "artist_name": out["artist_name"].astype("str"),
            "track": out["track"].astype("str"),
            "plays": out["plays"].astype("int64"),
            "played_at": out["played_at"].astype(_UTC_NS),
        },
        columns=list(LISTENS_COLUMNS),
    )
    return out, tally.report(src, len(out), files)


_KAGGLE_COLUMNS = (
    Column("user", ("Username", "user", "user_name")),
    Column("artist", ("Artist", "artist_name")),
    Column("track", ("Track", "track_name", "title"), required=False),
    Column("date", ("Date",), required=False),
    Column("time", ("Time",), required=False),
    Column("plays", ("plays", "playcount", "play_count"), required=False),
)


def _read_lastfm_kaggle(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Kaggle `Last.fm_data.csv`: [index], Username, Artist, Track, Album, Date, Time."""
    tally = _Tally()
    path = _single_file(src.path, src.format)
    table = read_csv_table(path, _KAGGLE_COLUMNS, sep=_delimiter(src, ","), encoding=src.encoding)
    tally.encodings.append(table.encoding)
    frame = table.frame
    played_at = None
    if "date" in frame and "time" in frame:
        played_at = _date_and_time(frame["date"], frame["time"], table, table.found["date"], tally)
    elif "date" in frame:
        played_at = _timestamps(frame["date"], table, table.found["date"], tally)
    else:
        tally.note("no Date column (played_at = NaT)", len(frame))
    part = _listens_part(table, tally, user=frame["user"], played_at=played_at)
    return _finish_listens([part], src, tally, 1)


_EXPORT_COLUMNS = (
    Column("user", ("user", "username", "user_name"), required=False),
    Column("artist", ("artist", "artist_name", "artist name")),
    Column("track", ("track", "track_name", "track name", "title", "name"), required=False),
    Column("uts", ("uts", "timestamp_unix", "unix_timestamp"), required=False),
    Column(
        "time",
        ("utc_time", "played_at", "date", "datetime", "timestamp", "time"),
        required=False,
    ),
    Column("plays", ("plays", "playcount", "play_count"), required=False),
)
_STEM_RE = re.compile(r"^(.+)_\d+$")


def user_from_filename(path: Path) -> str:
    """`ann_lee_2026.csv` -> `ann_lee`: the stem before a trailing `_<digits>` (else the stem)."""
    match = _STEM_RE.match(path.stem)
    return match.group(1) if match else path.stem


def _uts_then_text(uts: pd.Series, text: pd.Series, table: Table, tally: _Tally) -> pd.Series:
    """`uts` where it parses, else the text time of the same row (each with the BAD_SHARE rule)."""
    scratch = _Tally()  # the notes are counted once below, on the combined result
    played_at = _unix_seconds(uts, table, table.found["uts"], scratch)
    gaps = played_at.isna().to_numpy()
    if gaps.any():
        fallback = _timestamps(text[gaps], table, table.found["time"], scratch)
        played_at = played_at.fillna(fallback)
    unknown = played_at.isna().to_numpy()
    blank = (uts.str.strip() == "").to_numpy() & (text.str.strip() == "").to_numpy()
    tally.note("unparsable timestamp (played_at = NaT)", int((unknown & ~blank).sum()))
    tally.note("missing timestamp (played_at = NaT)", int((unknown & blank).sum()))
    return played_at


def _read_lastfm_export(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Per-user scrobble exports (file, folder of *.csv, or glob), any of the known layouts.

    The user is the `user`/`username` column when present, else the file name stem before a
    trailing `_<digits>` part (`ann_lee_2026.csv` -> `ann_lee`; `bob.csv` -> `bob`). The time
    is `uts` (unix seconds) when present, falling back per row to the text column (`utc_time`,
    `played_at`, `date`, ...) which is parsed as UTC.
    """
    tally = _Tally()
    files = resolve_files(src.path)
    parts = []
    for path in files:
        table = read_csv_table(
            path, _EXPORT_COLUMNS, sep=_delimiter(src, ","), encoding=src.encoding
        )
        tally.encodings.append(table.encoding)
        frame = table.frame
        if table.rows_read == 0 and len(files) > 1:
            tally.note("files with no data rows", 1)
        played_at = None
        if "uts" in frame and "time" in frame:
            played_at = _uts_then_text(frame["uts"], frame["time"], table, tally)
        elif "uts" in frame:
            played_at = _unix_seconds(frame["uts"], table, table.found["uts"], tally)
        elif "time" in frame:
            played_at = _timestamps(frame["time"], table, table.found["time"], tally)
        else:
            tally.note("files without a timestamp column (played_at = NaT)", 1)
        user = frame["user"] if "user" in frame else user_from_filename(path)
        parts.append(_listens_part(table, tally, user=user, played_at=played_at))
    return _finish_listens(parts, src, tally, len(files))


def _read_plays_table(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """A user/artist/plays table (CSV, or Parquet by extension); column names from the config."""
    tally = _Tally()
    path = _single_file(src.path, src.format)
    columns = (
        Column("user", (src.user_column,)),
        Column("artist", (src.artist_column,)),
        Column("plays", (src.plays_column,)),
    )
    if path.suffix.lower() in (".parquet", ".pq"):
        table = _read_parquet_table(path, columns)
    else:
        table = read_csv_table(path, columns, sep=_delimiter(src, ","), encoding=src.encoding)
    tally.encodings.append(table.encoding)
    part = _listens_part(table, tally, user=table.frame["user"], played_at=None)
    return _finish_listens([part], src, tally, 1)


def _read_hetrec(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """HetRec 2011 Last.fm: `user_artists.dat` (userID, artistID, weight) + `artists.dat` names.

    Tab separated with a header, read without CSV quoting (names contain quote characters). Users
    are the id as a string; an artistID missing from artists.dat is named `artist:<id>` (noted).
    """
    tally = _Tally()
    folder = require_folder(src.path, "hetrec2011")
    ua_path = find_member(folder, "user_artists.dat", "hetrec2011")
    names_path = find_member(folder, "artists.dat", "hetrec2011")
    sep = _delimiter(src, "\t")
    table = read_csv_table(
        ua_path,
        (
            Column("user", ("userID", "user_id", "user")),
            Column("artist_id", ("artistID", "artist_id")),
            Column("plays", ("weight", "plays", "playcount")),
        ),
        sep=sep,
        encoding=src.encoding,
        quoting=csv.QUOTE_NONE,
    )
    tally.encodings.append(table.encoding)
    names = _id_name_lines(names_path, src.encoding, sep, tally, header=True, what="artists.dat")
    ids = table.frame["artist_id"].str.strip()
    named = names.reindex(ids).to_numpy(dtype=object)
    missing = pd.isna(named)
    tally.note("artist ids without a name (placeholder 'artist:<id>')", int(missing.sum()))
    named[missing] = ("artist:" + ids[missing]).to_numpy(dtype=object)
    table.frame = table.frame.assign(artist=pd.Series(named, index=table.frame.index, dtype="str"))
    part = _listens_part(table, tally, user=table.frame["user"], played_at=None)
    return _finish_listens([part], src, tally, 2)


def _read_audioscrobbler(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Audioscrobbler: `user_artist_data*.txt` (`user artist plays`, whitespace separated) plus
    `artist_data*.txt` (`id<TAB>name`) and `artist_alias*.txt` (`badid<TAB>goodid`), no headers.

    Aliases are applied first (bad -> good), then plays are summed per (user, artist). Artist
    ids without a name get the placeholder `artist:<id>` (noted; their plays are kept).
    """
    tally = _Tally()
    folder = require_folder(src.path, "audioscrobbler")
    ua_path = find_member(folder, "user_artist_data*.txt", "audioscrobbler")
    names_path = find_member(folder, "artist_data*.txt", "audioscrobbler")
    alias_path = find_member(folder, "artist_alias*.txt", "audioscrobbler")
    check_not_empty(ua_path)
    enc = detect_encoding(ua_path, src.encoding)
    tally.encodings.append(enc)
    raw = read_csv_guarded(
        ua_path,
        encoding=enc,
        declared=src.encoding,
        sep=_delimiter(src, r"\s+"),
        header=None,
        names=["user", "artist", "plays"],
        index_col=False,
        dtype=str,
        na_filter=False,
        quoting=csv.QUOTE_NONE,
        engine="c",
    )
    table = Table(ua_path, raw, enc, [], {"plays": "playcount"}, len(raw), 0, header_lines=0)
    tally.rows_read += len(raw)
    ids = {}
    for key, label in (("user", "userid"), ("artist", "artistid")):
        f, _ = _to_float(raw[key])
        bad = np.isnan(f) | (f != np.floor(f)) | (f < 0)
        if bad.any():
            i = _first(bad)
            raise InputError(
                ua_path, f"not a numeric id: {raw[key].iloc[i]!r}", column=label, row=i + 1
            )
        ids[key] = f.astype("int64")
    plays = _plays(raw["plays"], table, "playcount")
    zero = plays == 0
    tally.skip("zero plays", int(zero.sum()))
    alias = _aliases(alias_path, src.encoding, tally)
    artist = ids["artist"][~zero]
    hit = pd.Series(artist).map(alias)
    n_alias = int(hit.notna().sum())
    tally.note("rows whose artist id was an alias (mapped to the canonical id)", n_alias)
    artist = np.where(hit.notna(), hit.fillna(0).to_numpy("int64"), artist)
    grouped = (
        pd.DataFrame({"user": ids["user"][~zero], "artist": artist, "plays": plays[~zero]})
        .groupby(["user", "artist"], sort=False, as_index=False)["plays"]
        .sum()
    )
    tally.skip(
        "merged with a row of the same user and artist (plays summed)", (~zero).sum() - len(grouped)
    )
    names = _id_name_lines(names_path, src.encoding, "\t", tally, header=False, what="artist_data")
    names.index = names.index.astype("int64")
    art_ids = grouped["artist"].to_numpy()
    named = names.reindex(art_ids).to_numpy(dtype=object)
    missing = pd.isna(named)
    tally.note(
        "rows with an artist id without a name (placeholder 'artist:<id>')", int(missing.sum())
    )
    named[missing] = [PLACEHOLDER.format(i) for i in art_ids[missing]]
    out = pd.DataFrame(
        {
            "user": grouped["user"].astype("str"),
            "artist_name": pd.Series(named, dtype="str"),
            "track": pd.Series(np.nan, index=grouped.index, dtype="str"),
            "plays": grouped["plays"].astype("int64"),
            "played_at": pd.Series(pd.NaT, index=grouped.index, dtype=_UTC_NS),
        }
    )
    return _finish_listens([out], src, tally, 3)


_LISTENS_READERS = {
    "lastfm_kaggle": _read_lastfm_kaggle,
    "lastfm_export": _read_lastfm_export,
    "plays_table": _read_plays_table,
    "hetrec2011": _read_hetrec,
    "audioscrobbler": _read_audioscrobbler,
}


def read_listens(src: SourceConfig) -> tuple[pd.DataFrame, ReadReport]:
    """Read a listening-history source into the canonical `listens` table (+ what happened)."""
    reader = _LISTENS_READERS.get(src.format)
    if reader is None:
        raise InputError(src.path, f"unknown listens format {src.format!r}")
    return reader(src)
