"""Source readers: every supported input layout -> one of three canonical tables.

`read_listens` -> `listens`, `read_tracks` -> `spotify_tracks`, `read_artists` -> `spotify_artists`
(columns and dtypes in `schema.py` / docs/architecture.md). Each returns the frame and a
`ReadReport` so the Dagster layer can show what was read, what was skipped and why. String
columns use pandas' `str` dtype (missing = NaN), list columns hold Python lists of str, `plays`
is int64 and `played_at` is datetime64[ns, UTC] (NaT where unknown).

Accounting: ``rows_out + sum(skipped.values()) == rows_read`` for every format. `skipped` counts
input rows that do not appear as their own output row; `notes` counts things that were kept but
changed or are worth knowing (placeholder names, stripped control characters, NaT timestamps).

Bad input, case -> decision (row = file line, header = line 1):

| case | decision |
|---|---|
| missing file, empty glob, missing folder / folder member | InputError naming the path |
| several files match one folder member pattern | InputError (never guess which) |
| 0-byte file; file with no header line | InputError |
| unknown format / unknown encoding name | InputError |
| header-only file (no data rows) / every row skipped | InputError for the source; in a multi-file source a header-only member is fine (note) |
| required column missing or misnamed | InputError listing the columns found and the closest name |
| header splits into the columns under `;`, tab or `|` | InputError "looks ';'-separated; set delimiter = ';'" |
| declared encoding cannot decode a byte | InputError with the line; `auto` falls back UTF-8 > cp1252 > latin-1 |
| row with more fields than the header (stray quote, unquoted delimiter) | InputError with the line |
| row with fewer fields (e.g. last line cut outside quotes) | missing fields read as empty, then the blank/timestamp rules apply (pandas cannot tell short rows apart) |
| stray quote inside an unquoted field (`Bad "Artist" x`) | kept literally |
| quoted field never closed (truncated file, stray opening quote) | InputError with the line |
| line that repeats the header | skip "repeated header line" |
| blank user / blank artist name (after cleaning) | skip "blank user name" / "blank artist name" |
| plays non-numeric, empty, fractional, negative | InputError with column and row |
| plays == 0 | skip "zero plays" |
| plays > 1e9 (or inf / beyond int64) | InputError: implausible for one row, likely a wrong column |
| timestamp unparsable: <= 1% of rows | kept with played_at = NaT, note "unparsable timestamp" |
| timestamp unparsable: > 1% of rows | InputError with the first bad row and value |
| timestamp empty | kept with NaT, note "missing timestamp" |
| control characters in a name | stripped (tab/CR/LF -> space), row kept, note |
| HTML-like markup in a name | kept as text, note |
| list cell malformed (`['a', 'b'`, `[a, b]`, ints) | tolerant tokenizer, row kept, note |
| audio feature / popularity non-numeric: <= 1% | NaN, note; > 1%: InputError with the first bad row |
| audioscrobbler artist id without a name | placeholder `artist:<id>`, plays kept, note |
| audioscrobbler `artist_data` line `<id> <name>` (space, no tab) | split on the first space, note |
| audioscrobbler `artist_data`/`artist_alias` line unusable (no id, no name) | ignored, note |
| audioscrobbler 0-byte `artist_alias` file | valid (no aliases), note |
| audioscrobbler rows of the same (user, artist) after aliasing | skip "merged ... (plays summed)" |
| hetrec artistID missing from artists.dat | placeholder `artist:<id>`, plays kept, note |
| spotify_600k_tracks: artists / id_artists lists differ in length or are empty | skip |
| tracks: blank id / blank name / duplicate id or uri | skip (first occurrence kept) |
| spotify_track_table: uri not `spotify:track:<id>` | skip "unparsable uri" |
| artists: duplicate id; spotify_artist_table duplicate name | skip (600k: first kept; table: larger `count` kept) |
| a one-artist catalogue | valid |
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .config import SourceConfig
from .errors import InputError
from .schema import AUDIO_FEATURES, LISTENS_COLUMNS, SPOTIFY_ARTIST_COLUMNS, SPOTIFY_TRACK_COLUMNS
from .textio import (
    Column,
    Table,
    check_not_empty,
    clean_names,
    detect_encoding,
    find_member,
    parse_list_cell,
    parse_list_column,
    read_csv_guarded,
    read_csv_table,
    read_text_lines,
    require_folder,
    resolve_columns,
    resolve_files,
)

__all__ = ["ReadReport", "parse_list_cell", "read_artists", "read_listens", "read_tracks"]

BAD_SHARE = 0.01  # up to this share of unparsable dates / features becomes NaT / NaN (noted)
MAX_PLAYS = 1_000_000_000  # one row claiming more plays than this is a wrong column, not a fan
PLACEHOLDER = "artist:{}"  # name of an artist id the source never names
_NS_MIN = pd.Timestamp("1678-01-01", tz="UTC")
_NS_MAX = pd.Timestamp("2262-01-01", tz="UTC")
_UTC_NS = "datetime64[ns, UTC]"
_NAT = np.iinfo("int64").min


@dataclass
class ReadReport:
    """What a reader saw and did, for asset metadata and for people debugging their files."""

    path: str  # file or glob/folder read
    format: str
    encoding: str  # what was used/detected (several files: distinct values joined by "+")
    rows_read: int  # data rows seen in the file(s)
    rows_out: int  # rows in the returned frame
    skipped: dict[str, int]  # reason -> count, for documented skips (e.g. "blank artist name": 3)
    files: int = 1
    notes: dict[str, int] = field(default_factory=dict)  # kept-but-changed things, reason -> count


class _Tally:
    """Collects skips/notes and encodings while a reader works through its files."""

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.encodings: list[str] = []
        self.rows_read = 0

    def skip(self, reason: str, n: int) -> None:
        if n:
            self.skipped[reason] += int(n)

    def note(self, reason: str, n: int) -> None:
        if n:
            self.notes[reason] += int(n)

    def report(self, src: SourceConfig, rows_out: int, files: int) -> ReadReport:
        encoding = "+".join(dict.fromkeys(self.encodings)) or "n/a"
        return ReadReport(
            path=str(src.path),
            format=src.format,
            encoding=encoding,
            rows_read=self.rows_read,
            rows_out=rows_out,
            skipped=dict(self.skipped),
            files=files,
            notes=dict(self.notes),
        )


def _delimiter(src: SourceConfig, default: str) -> str:
    return src.delimiter if src.delimiter else default


def _single_file(path: Path, what: str) -> Path:
    """The one file a single-file format reads; a glob or folder matching several is an error."""
    files = resolve_files(path)
    if len(files) > 1:
        names = ", ".join(f.name for f in files[:5]) + (" ..." if len(files) > 5 else "")
        raise InputError(path, f"{what} reads one file but {len(files)} match ({names})")
    return files[0]


def _check_nonempty(src: SourceConfig, tally: _Tally, rows_out: int) -> None:
    """A source that yields nothing is an error: downstream would fail far from the cause."""
    if tally.rows_read == 0:
        raise InputError(src.path, "no data rows (the file has a header only)")
    if rows_out == 0:
        reasons = ", ".join(f"{k}: {v}" for k, v in tally.skipped.items())
        raise InputError(
            src.path, f"no usable rows: all {tally.rows_read} were skipped ({reasons})"
        )


# --------------------------------------------------------------------------- value parsing


def _arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype("str"), from_pandas=True)
    return pc.utf8_trim_whitespace(arr)


def _to_float(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, blank mask); unparsable non-blank cells become NaN."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        f = values.to_numpy(dtype="float64", na_value=np.nan)
        return f, np.isnan(f)
    arr = _arrow(values)
    blank = pc.fill_null(pc.equal(arr, ""), True).to_numpy(zero_copy_only=False)
    nulled = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    try:
        f = pc.cast(nulled, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        f = pd.to_numeric(pd.Series(nulled.to_pandas()), errors="coerce").to_numpy("float64")
    return f.astype("float64", copy=False), blank


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _plays(values: pd.Series, table: Table, column: str) -> np.ndarray:
    """Play counts as int64, or an InputError naming the first bad row (zeros are kept here)."""
    f, blank = _to_float(values)
    raw = values.to_numpy(dtype=object)
    idx = values.index.to_numpy()

    def fail(mask: np.ndarray, why: str) -> None:
        i = _first(mask)
        msg = why.format(v=repr(raw[i]))
        raise InputError(table.path, msg, column=column, row=table.line(idx[i]))

    if blank.any():
        fail(blank, "empty play count")
    bad = np.isnan(f)
    if bad.any():
        fail(bad, "play count {v} is not a number")
    if (f < 0).any():
        fail(f < 0, "negative play count {v}")
    if (f > MAX_PLAYS).any():
        fail(f > MAX_PLAYS, "implausible play count {v} (over 1e9 in one row: wrong column?)")
    frac = f != np.floor(f)
    if frac.any():
        fail(frac, "play count {v} is not a whole number")
    return f.astype("int64")


def _numbers(values: pd.Series, table: Table, column: str, tally: _Tally, total: int) -> np.ndarray:
    """A float column where a few bad cells become NaN (noted) and many are an error."""
    f, blank = _to_float(values)
    bad = np.isnan(f) & ~blank
    n_bad = int(bad.sum())
    if n_bad and n_bad > BAD_SHARE * max(total, 1):
        i = _first(bad)
        raise InputError(
            table.path,
            f"not a number: {values.iloc[i]!r} ({n_bad} of {total} rows bad)",
            column=column,
            row=table.line(values.index[i]),
        )
    tally.note(f"non-numeric {column} (NaN)", n_bad)
    return f


# Candidate timestamp formats, tried on the distinct values; unambiguous ones only (no 01/02/2021).
_TIME_FORMATS = (
    "%d %b %Y %H:%M",  # Kaggle Date + Time
    "%d %b %Y, %H:%M",  # lastfm-to-csv utc_time
    "ISO8601",  # 2020-04-13 05:01:31, 2025-08-16T11:45:00Z
    "%d %B %Y %H:%M",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y",
    "%d %B %Y",
)


def _parse_distinct(uniques: pd.Index, fmt: str) -> pd.DatetimeIndex:
    return pd.to_datetime(uniques, format=fmt, errors="coerce", utc=True)


def _distinct_ns(values: pd.Series) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """(UTC ns per row, NaT = _NAT; blank mask; stripped text) for text timestamps.

    Parsed once per distinct value: the format that fits a sample best first, then the others
    for what is left, so a column mixing two layouts still parses.
    """
    s = values.astype("str").fillna("").str.strip()
    blank = (s == "").to_numpy()
    codes, uniques = pd.factorize(s)
    uniques = pd.Index(uniques, dtype=object)
    ns = np.full(len(uniques), _NAT, dtype="int64")
    todo = np.asarray(uniques != "", dtype=bool)
    sample = uniques[todo][:1000]
    scores = {f: int(_parse_distinct(sample, f).notna().sum()) for f in _TIME_FORMATS}
    for fmt in sorted(_TIME_FORMATS, key=lambda f: -scores[f]):
        if not todo.any():
            break
        pos = np.flatnonzero(todo)
        got = _parse_distinct(uniques[pos], fmt)
        ok = np.asarray(got.notna() & (got >= _NS_MIN) & (got < _NS_MAX), dtype=bool)
        ns[pos[ok]] = got[ok].as_unit("ns").asi8
        todo[pos[ok]] = False
    return ns[codes], blank, s


def _time_of_day_ns(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """("23:36" or "23:36:05" -> ns since midnight, _NAT if unparsable; blank mask)."""
    s = values.astype("str").fillna("").str.strip()
    blank = (s == "").to_numpy()
    codes, uniques = pd.factorize(s)
    u = pd.Series(uniques, dtype="str")
    parts = u.str.extract(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$").astype("float64")
    secs = parts[0] * 3600 + parts[1] * 60 + parts[2].fillna(0)
    ok = (parts[0] < 24) & (parts[1] < 60) & (parts[2].fillna(0) < 60)
    ns = np.where(ok, secs.fillna(0).to_numpy() * 1e9, np.nan)
    out = np.full(len(u), _NAT, dtype="int64")
    good = ~np.isnan(ns)
    out[good] = ns[good].astype("int64")
    return out[codes], blank


def _ns_series(ns: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"), index=index)


def _timestamps(values: pd.Series, table: Table, column: str, tally: _Tally) -> pd.Series:
    """Text timestamps -> datetime64[ns, UTC] (naive values are UTC), with the BAD_SHARE rule."""
    ns, blank, s = _distinct_ns(values)
    _apply_bad_time_rule((ns == _NAT) & ~blank, blank, s, table, column, tally)
    return _ns_series(ns, values.index)


def _date_and_time(
    date: pd.Series, time: pd.Series, table: Table, column: str, tally: _Tally
) -> pd.Series:
    """Kaggle `Date` ("31 Jan 2021") + `Time` ("23:36") -> UTC timestamps.

    The two parts are parsed separately (few distinct values each, fast at millions of rows);
    a row with either part blank is "missing", either part unparsable is "unparsable".
    """
    day, day_blank, day_text = _distinct_ns(date)
    tod, tod_blank = _time_of_day_ns(time)
    blank = day_blank | tod_blank
    ok = (day != _NAT) & (tod != _NAT)
    ns = np.where(ok, day + np.where(ok, tod, 0), _NAT)
    raw = day_text + " " + time.astype("str").fillna("").str.strip()
    _apply_bad_time_rule(~ok & ~blank, blank, raw, table, column, tally)
    return _ns_series(ns, date.index)


_TEXT_TIME_HINT = "e.g. '31 Jan 2021 23:36', '31 Jan 2021, 23:36' or ISO 8601"


def _apply_bad_time_rule(
    bad: np.ndarray,
    blank: np.ndarray,
    raw: pd.Series,
    table: Table,
    column: str,
    tally: _Tally,
    expected: str = _TEXT_TIME_HINT,
) -> None:
    """Few unparsable timestamps become NaT (noted); more than BAD_SHARE is an error."""
    n_bad = int(bad.sum())
    if n_bad and n_bad > BAD_SHARE * len(bad):
        i = _first(bad)
        raise InputError(
            table.path,
            f"cannot parse {raw.iloc[i]!r} as a timestamp ({n_bad} of {len(bad)} rows "
            f"unparsable; expected {expected})",
            column=column,
            row=table.line(raw.index[i]),
        )
    tally.note("unparsable timestamp (played_at = NaT)", n_bad)
    tally.note("missing timestamp (played_at = NaT)", int(blank.sum()))


def _unix_seconds(values: pd.Series, table: Table, column: str, tally: _Tally) -> pd.Series:
    """Unix-seconds text -> datetime64[ns, UTC], same bad-value rule as text timestamps."""
    f, blank = _to_float(values)
    ok = ~np.isnan(f) & (f > -9e9) & (f < 9e9)
    ns = np.full(len(f), _NAT, dtype="int64")
    ns[ok] = np.round(f[ok] * 1e3).astype("int64") * 1_000_000
    raw = values.astype("str")
    _apply_bad_time_rule(~ok & ~blank, blank, raw, table, column, tally, "unix seconds")
    return _ns_series(ns, values.index)


# --------------------------------------------------------------------------- listens


def _name_column(values: pd.Series, what: str, tally: _Tally) -> pd.Series:
    cleaned, n_control, n_html = clean_names(values)
    tally.note(f"control characters stripped from {what}", n_control)
    tally.note(f"HTML-like markup in {what} (kept as text)", n_html)
    return cleaned


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


def _read_parquet_table(path: Path, columns: Sequence[Column]) -> Table:
    """A Parquet file as a Table (same column matching as CSV; values keep their types)."""
    check_not_empty(path)
    try:
        names = pq.read_schema(path).names
        found = resolve_columns(path, names, columns, sep=",", raw_header="")
        raw = pq.read_table(path, columns=list(dict.fromkeys(found.values()))).to_pandas()
    except InputError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(path, f"cannot read as Parquet: {exc}") from None
    frame = pd.DataFrame({k: raw[v] for k, v in found.items()})
    for key in ("user", "artist"):
        col = frame[key]
        frame[key] = col.astype("str").where(col.notna(), "")
    return Table(path, frame, "parquet", names, found, len(frame), 0, header_lines=0)


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


def _id_name_lines(
    path: Path, encoding: str, sep: str, tally: _Tally, *, header: bool, what: str
) -> pd.Series:
    """`id<sep>name[<sep>...]` lines -> Series name indexed by id (first of duplicates kept).

    Read line by line (no quoting rules). A line without `sep` but shaped `<digits> <name>` is
    split on its first whitespace; lines with no numeric id or no name are ignored; both noted.
    """
    enc = detect_encoding(path, encoding)
    tally.encodings.append(enc)
    lines = read_text_lines(path, enc, encoding)
    if header and len(lines):
        lines = lines.iloc[1:]
    parts = lines.str.split(sep, n=2, expand=True, regex=False)
    ids = parts[0].str.strip()
    name = parts[1] if parts.shape[1] > 1 else pd.Series(np.nan, index=lines.index, dtype="str")
    no_sep = name.isna() if sep != " " else pd.Series(False, index=lines.index)
    spaced = lines[no_sep].str.extract(r"^\s*(\d+)\s+(\S.*)$")
    repaired = spaced[0].notna()
    tally.note(f"{what} lines split on a space (no tab)", int(repaired.sum()))
    ids = ids.where(~no_sep, spaced[0].reindex(ids.index))
    name = name.where(~no_sep, spaced[1].reindex(ids.index))
    name, n_control, _ = clean_names(name.fillna(""))
    tally.note(f"control characters stripped from {what} names", n_control)
    usable = ids.fillna("").str.fullmatch(r"\d+") & (name != "")
    tally.note(f"{what} lines without a numeric id and a name (ignored)", int((~usable).sum()))
    table = pd.Series(name[usable].to_numpy(), index=ids[usable].to_numpy(), dtype="str")
    dup = table.index.duplicated()
    tally.note(f"{what} duplicate ids (first name kept)", int(dup.sum()))
    return table[~dup]


def _aliases(path: Path, encoding: str, tally: _Tally) -> pd.Series:
    """`badid<TAB>goodid` -> Series goodid indexed by badid (int64), chains resolved."""
    if path.stat().st_size == 0:  # a dataset without known misspellings: legitimately empty
        tally.note("artist_alias file empty (no aliases)", 1)
        return pd.Series([], dtype="int64")
    enc = detect_encoding(path, encoding)
    tally.encodings.append(enc)
    lines = read_text_lines(path, enc, encoding)
    parts = lines.str.extract(r"^\s*(\d+)\s+(\d+)\s*$")
    ok = parts[0].notna()
    tally.note("artist_alias lines that are not two ids (ignored)", int((~ok).sum()))
    bad = parts[0][ok].astype("int64").to_numpy()
    good = parts[1][ok].astype("int64").to_numpy()
    alias = pd.Series(good, index=bad)
    alias = alias[~alias.index.duplicated()]
    alias = alias[alias.index != alias.to_numpy()]
    for _ in range(8):  # a -> b -> c becomes a -> c; cycles stop after a few hops
        nxt = alias.reindex(alias.to_numpy())
        hop = nxt.notna().to_numpy()
        if not hop.any():
            break
        alias = alias.where(~hop, nxt.to_numpy())
    return alias


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


# --------------------------------------------------------------------------- tracks


def _feature_columns(names: Sequence[str]) -> tuple[Column, ...]:
    return tuple(Column(f, (f,), required=False) for f in names)


def _float_block(
    table: Table, keys: Sequence[str], tally: _Tally, keep: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The optional numeric columns (NaN when absent), parsed with the BAD_SHARE rule."""
    frame = table.frame if keep is None else table.frame[keep]
    out = {}
    for key in keys:
        if key in frame:
            out[key] = _numbers(frame[key], table, table.found[key], tally, len(frame))
        else:
            out[key] = np.full(len(frame), np.nan)
    return out


def _skip_masks(tally: _Tally, n: int, checks: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Apply skip rules in order; each row is counted under the first reason that hits it."""
    keep = np.ones(n, dtype=bool)
    for reason, mask in checks:
        hit = np.asarray(mask, dtype=bool) & keep
        tally.skip(reason, int(hit.sum()))
        keep &= ~hit
    return keep


def _tracks_frame(cols: dict[str, object]) -> pd.DataFrame:
    out = pd.DataFrame({c: cols[c] for c in SPOTIFY_TRACK_COLUMNS}, columns=SPOTIFY_TRACK_COLUMNS)
    for c in ("track_id", "track_name"):
        out[c] = out[c].astype("str")
    for c in SPOTIFY_TRACK_COLUMNS[4:]:
        out[c] = out[c].astype("float64")
    return out.reset_index(drop=True)


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
    path = _single_file(src.path, src.format)
    table = read_csv_table(path, _TRACKS_600K, sep=_delimiter(src, ","), encoding=src.encoding)
    tally.encodings.append(table.encoding)
    tally.rows_read = table.rows_read
    tally.skip("repeated header line", table.repeated_headers)
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
    out = _tracks_frame(cols)
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
        parts.append(_tracks_frame(cols))
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


# --------------------------------------------------------------------------- artists


def _empty_lists(n: int) -> np.ndarray:
    """An object array of n distinct empty lists (numpy would broadcast a list of lists)."""
    return np.fromiter(([] for _ in range(n)), dtype=object, count=n)


def _artists_frame(cols: dict[str, object]) -> pd.DataFrame:
    out = pd.DataFrame({c: cols[c] for c in SPOTIFY_ARTIST_COLUMNS}, columns=SPOTIFY_ARTIST_COLUMNS)
    for c in ("artist_id", "artist_name"):
        out[c] = out[c].astype("str")
    for c in SPOTIFY_ARTIST_COLUMNS[3:]:
        out[c] = out[c].astype("float64")
    return out.reset_index(drop=True)


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
    path = _single_file(src.path, src.format)
    table = read_csv_table(path, _ARTISTS_600K, sep=_delimiter(src, ","), encoding=src.encoding)
    tally.encodings.append(table.encoding)
    tally.rows_read = table.rows_read
    tally.skip("repeated header line", table.repeated_headers)
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
    out = _artists_frame(cols)
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
    path = _single_file(src.path, src.format)
    table = read_csv_table(path, _ARTIST_TABLE, sep=_delimiter(src, ","), encoding=src.encoding)
    tally.encodings.append(table.encoding)
    tally.rows_read = table.rows_read
    tally.skip("repeated header line", table.repeated_headers)
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
    out = _artists_frame(cols)
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
