"""Source tables (CSV, or Parquet for play counts) read as text columns, with errors that name
the file, the column and the line.

Delimiter: each format has its own; `SourceConfig.delimiter` overrides it. When required columns
are missing but the header line splits into them under another delimiter (`,` `;` tab `|`), the
read fails with "looks ';'-separated; set delimiter = ';'" rather than guessing: the config stays
the single statement of what the file is.

Line numbers are file lines assuming no quoted field spans several lines (then they are a lower
bound): data row ``i`` (0-based) of a file with a header is line ``i + 2``.
"""

from __future__ import annotations

import csv
import difflib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import SourceConfig
from ..errors import InputError
from .files import AUTO, _single_file, check_not_empty, decode_error, detect_encoding
from .report import _Tally

_ALT_DELIMITERS = (",", ";", "\t", "|")


def _delimiter(src: SourceConfig, default: str) -> str:
    return src.delimiter if src.delimiter else default


@dataclass(frozen=True)
class Column:
    """A column a reader wants: its key in the frame and the header names accepted for it."""

    key: str
    names: tuple[str, ...]
    required: bool = True


@dataclass
class Table:
    """A CSV read as text: `frame` has one str column per found key, index = data row number."""

    path: Path
    frame: pd.DataFrame
    encoding: str
    header: list[str]  # the file's column names as written
    found: dict[str, str]  # key -> header name
    rows_read: int  # data rows in the file, repeated header lines included
    repeated_headers: int  # data lines that repeat the header (dropped from `frame`)
    header_lines: int = 1

    def line(self, index: int) -> int:
        """File line (1-based) of data row `index`."""
        return int(index) + 1 + self.header_lines


def _norm(name: object) -> str:
    return str(name).replace("\ufeff", "").strip().lower()


def _raw_first_line(path: Path, encoding: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    return first.decode(encoding, errors="replace").lstrip("\ufeff")


def _sniff_delimiter(raw: str, sep: str, wanted: Sequence[Sequence[str]]) -> str | None:
    for alt in _ALT_DELIMITERS:
        if alt == sep:
            continue
        try:
            cells = {_norm(c) for c in next(csv.reader([raw], delimiter=alt))}
        except (csv.Error, StopIteration):
            continue
        if len(cells) > 1 and all(any(_norm(n) in cells for n in names) for names in wanted):
            return alt
    return None


def resolve_columns(
    path: Path, header: Sequence[str], columns: Sequence[Column], *, sep: str, raw_header: str
) -> dict[str, str]:
    """Map each wanted column to the header name present (case-insensitive, spaces trimmed).

    A missing required column is an error listing the columns found and the closest name; when the
    header splits into the wanted columns under another delimiter, the message says which.
    """
    by_norm: dict[str, str] = {}
    for name in header:
        by_norm.setdefault(_norm(name), name)
    found: dict[str, str] = {}
    missing: list[Column] = []
    for col in columns:
        hit = next((by_norm[_norm(n)] for n in col.names if _norm(n) in by_norm), None)
        if hit is not None:
            found[col.key] = hit
        elif col.required:
            missing.append(col)
    if not missing:
        return found
    wanted = [c.names for c in columns if c.required]
    alt = _sniff_delimiter(raw_header, sep, wanted)
    first = missing[0]
    if alt is not None:
        raise InputError(
            path,
            f"required column {first.names[0]!r} not found using delimiter {sep!r}, but the "
            f"header looks {alt!r}-separated; set delimiter = {alt!r} in the source config",
            column=first.names[0],
        )
    shown = ", ".join(repr(str(h)) for h in header[:30]) + (" ..." if len(header) > 30 else "")
    close = difflib.get_close_matches(_norm(first.names[0]), list(by_norm), n=1, cutoff=0.6)
    also = f" (also accepted: {', '.join(map(repr, first.names[1:]))})" if first.names[1:] else ""
    hint = f"; closest: {by_norm[close[0]]!r}" if close else ""
    others = [c.names[0] for c in missing[1:]]
    more = f"; also missing: {', '.join(map(repr, others))}" if others else ""
    raise InputError(
        path,
        f"missing required column {first.names[0]!r}{also}; found columns: {shown}{hint}{more}",
        column=first.names[0],
    )


_LINE_RE = re.compile(r"in line (\d+)")
_ROW_RE = re.compile(r"starting at row (\d+)")
_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_csv_guarded(path: Path, *, encoding: str, declared: str, **kwargs: Any) -> pd.DataFrame:
    """`pd.read_csv` whose parser/decoder failures become InputErrors naming file and line."""
    try:
        with warnings.catch_warnings():
            # pandas only *warns* when the first data line has more fields than the header
            # (and then shifts every column): make that an error like any other long line.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, encoding=encoding, **kwargs)
    except pd.errors.ParserWarning:
        raise InputError(
            path,
            "the first data line has more fields than the header (an unquoted delimiter "
            "inside a name, a stray quote, or a trailing delimiter)",
            row=1 if kwargs.get("header", "infer") is None else 2,
        ) from None
    except UnicodeDecodeError:
        raise decode_error(path, encoding, declared) from None
    except pd.errors.EmptyDataError:
        raise InputError(path, "file has no header line (empty or only blank lines)") from None
    except pd.errors.ParserError as exc:
        msg = str(exc)
        fields = _FIELDS_RE.search(msg)
        if fields:
            want, line, saw = fields.groups()
            raise InputError(
                path,
                f"line has {saw} fields, expected {want} like the first line (an unquoted "
                "delimiter inside a name, a stray quote, or the wrong delimiter)",
                row=int(line),
            ) from None
        row = _ROW_RE.search(msg)
        if row:
            raise InputError(
                path,
                "a quoted field starting on this line is never closed (truncated file or a "
                "stray quote)",
                row=int(row.group(1)) + 1,
            ) from None
        line = _LINE_RE.search(msg)
        raise InputError(
            path, f"cannot parse as CSV: {msg}", row=int(line.group(1)) if line else None
        ) from None
    except (ValueError, OSError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None


def read_csv_table(
    path: Path,
    columns: Sequence[Column],
    *,
    sep: str,
    encoding: str = AUTO,
    quoting: int = csv.QUOTE_MINIMAL,
) -> Table:
    """Read the wanted columns of a headed CSV as text (C engine, usecols), with clear errors.

    Values stay strings (no NA guessing: an artist called "NA" or "null" is a name); the readers
    convert numbers and dates themselves so they can name the first bad row. Lines that repeat the
    header (files concatenated with `cat`) are dropped and counted.
    """
    check_not_empty(path)
    enc = detect_encoding(path, encoding)
    common: dict[str, Any] = {"sep": sep, "quoting": quoting, "engine": "c"}
    head = read_csv_guarded(path, encoding=enc, declared=encoding, nrows=0, **common)
    header = [str(c) for c in head.columns]
    found = resolve_columns(path, header, columns, sep=sep, raw_header=_raw_first_line(path, enc))
    # All columns are parsed (no usecols): with usecols pandas silently drops the extra fields
    # of a too-long line, and the data would shift without an error.
    frame = read_csv_guarded(
        path,
        encoding=enc,
        declared=encoding,
        index_col=False,
        dtype=str,
        na_filter=False,
        keep_default_na=False,
        **common,
    )
    frame = pd.DataFrame({key: frame[name].astype("str") for key, name in found.items()})
    rows_read = len(frame)
    n_repeated = 0
    first_key, first_name = next(iter(found.items()))
    first = pc.utf8_trim_whitespace(pa.array(frame[first_key], from_pandas=True))
    screen = pc.fill_null(pc.equal(pc.utf8_lower(first), _norm(first_name)), False)
    if pc.any(screen).as_py():  # cheap screen on one column, then the full check on the hits
        repeated = pd.Series(screen.to_numpy(zero_copy_only=False), index=frame.index)
        for key, name in found.items():
            repeated &= frame[key].str.strip().str.lower() == _norm(name)
        n_repeated = int(repeated.sum())
    if n_repeated:
        frame = frame.loc[~repeated]
    return Table(path, frame, enc, header, found, rows_read, n_repeated)


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


def _read_single_table(src: SourceConfig, columns: Sequence[Column], tally: _Tally) -> Table:
    """The source's one CSV file read with ``columns``; its encoding, rows and repeated header
    lines counted in ``tally``."""
    path = _single_file(src.path, src.format)
    table = read_csv_table(path, columns, sep=_delimiter(src, ","), encoding=src.encoding)
    tally.encodings.append(table.encoding)
    tally.rows_read = table.rows_read
    tally.skip("repeated header line", table.repeated_headers)
    return table


def _canonical_frame(
    cols: dict[str, object], columns: Sequence[str], text: int, first_float: int
) -> pd.DataFrame:
    """A canonical table from its columns: the first ``text`` as ``str``, those from
    ``first_float`` on as float64 (list columns in between stay as they are)."""
    out = pd.DataFrame({c: cols[c] for c in columns}, columns=list(columns))
    for c in columns[:text]:
        out[c] = out[c].astype("str")
    for c in columns[first_float:]:
        out[c] = out[c].astype("float64")
    return out.reset_index(drop=True)
