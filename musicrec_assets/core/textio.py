"""Text-file plumbing for the source readers: encodings, delimiters, CSV parsing, list cells.

Everything here turns a raw pandas/codec failure into an `InputError` that names the file, the
column and the (1-based, header = line 1) line, so a person can open the file and look.

Encoding (`auto`): the whole file is decoded incrementally as UTF-8 (a BOM is stripped and
reported as `utf-8-sig`); if that fails, cp1252; if that fails too (it has five undefined bytes),
latin-1, which never fails. An explicit encoding is honoured as given; a byte it cannot decode is
an error naming the line.

Delimiter: each format has its own; `SourceConfig.delimiter` overrides it. When required columns
are missing but the header line splits into them under another delimiter (`,` `;` tab `|`), the
read fails with "looks ';'-separated; set delimiter = ';'" rather than guessing: the config stays
the single statement of what the file is.

Line numbers are file lines assuming no quoted field spans several lines (then they are a lower
bound): data row ``i`` (0-based) of a file with a header is line ``i + 2``.
"""

from __future__ import annotations

import ast
import codecs
import csv
import difflib
import glob as globlib
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError

AUTO = "auto"
_CHUNK = 1 << 22  # bytes per incremental decode step
_ALT_DELIMITERS = (",", ";", "\t", "|")
_GLOB_CHARS = re.compile(r"[*?\[]")
_LIST_MAX_CHARS = 100_000  # longer list cells skip ast.literal_eval (cost/recursion guard)

# Control characters removed from names: C0 (tab/CR/LF become a space first), DEL and C1.
_ANY_CONTROL = r"[\x00-\x1f\x7f-\x9f]"
_LINE_CONTROL = r"[\t\n\r]+"
_OTHER_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_HTML_LIKE = r"<[A-Za-z/!][^>]*>"

# List cells that need no parser: only single-quoted (or only double-quoted) items without
# escapes, quotes or edge whitespace inside. Everything else goes through parse_list_cell.
_SQ_ITEM = r"'[^'\\\s\pZ](?:[^'\\]*[^'\\\s\pZ])?'"  # RE2 syntax (Arrow kernels)
_DQ_ITEM = r'"[^"\\\s\pZ](?:[^"\\]*[^"\\\s\pZ])?"'
_SIMPLE_SQ = rf"\[{_SQ_ITEM}(?:, {_SQ_ITEM})*\]"
_SIMPLE_DQ = rf"\[{_DQ_ITEM}(?:, {_DQ_ITEM})*\]"


# --------------------------------------------------------------------------- paths


def resolve_files(path: str | Path, *, default_glob: str = "*.csv") -> list[Path]:
    """Expand a file, a folder (its `default_glob` members) or a glob pattern to sorted files.

    Sorted so that multi-file sources are read (and deduplicated) in a reproducible order.
    """
    text = str(path)
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.glob(default_glob) if f.is_file())
        if not files:
            raise InputError(p, f"folder has no files matching {default_glob!r}")
        return files
    if _GLOB_CHARS.search(p.name) or _GLOB_CHARS.search(str(p.parent)):
        files = sorted(Path(f) for f in globlib.glob(text) if Path(f).is_file())
        if not files:
            raise InputError(p, "no files match this pattern")
        return files
    if not p.exists():
        raise InputError(p, "file not found")
    if not p.is_file():
        raise InputError(p, "not a regular file")
    return [p]


def find_member(folder: Path, pattern: str, what: str) -> Path:
    """The one file in `folder` matching `pattern` (several or none is an error, never a guess)."""
    matches = sorted(f for f in folder.glob(pattern) if f.is_file())
    if not matches:
        raise InputError(folder / pattern, f"missing file: {what} needs {pattern!r} in {folder}")
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches)
        raise InputError(folder, f"several files match {pattern!r} ({names}); keep exactly one")
    return matches[0]


def require_folder(path: str | Path, fmt: str) -> Path:
    """The source folder of a folder format, or an InputError saying what was expected."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, f"folder not found ({fmt} reads a folder)")
    if not p.is_dir():
        raise InputError(p, f"not a folder: {fmt} reads a folder of files, not a single file")
    return p


def check_not_empty(path: Path) -> None:
    """A 0-byte data file is a mistake (an interrupted download or copy): say so plainly."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    if size == 0:
        raise InputError(path, "file is empty (0 bytes)")


# --------------------------------------------------------------------------- encodings


def _normalise_codec(path: Path, encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise InputError(path, f"unknown encoding {encoding!r} in the source config") from exc


def first_decode_error(path: Path, encoding: str) -> tuple[int, int, bytes] | None:
    """(byte offset, 1-based line, bad bytes) of the first undecodable byte, or None if clean."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, line = 0, 1
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            state = decoder.getstate()
            pending = len(state[0]) if isinstance(state, tuple) and state else 0
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                start = max(exc.start - pending, 0)
                bad = exc.object[exc.start : exc.end]
                return offset + start, line + chunk[:start].count(b"\n"), bytes(bad)
            offset += len(chunk)
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset, line, bytes(exc.object[exc.start : exc.end])
    return None


def detect_encoding(path: Path, declared: str = AUTO) -> str:
    """The codec to read `path` with: the declared one, or for `auto` UTF-8 > cp1252 > latin-1.

    A UTF-8 BOM turns `utf-8` into `utf-8-sig` so the first column name never starts with it.
    """
    with open(path, "rb") as fh:
        has_bom = fh.read(3) == codecs.BOM_UTF8
    if declared and declared.lower() != AUTO:
        name = _normalise_codec(path, declared)
        return "utf-8-sig" if name == "utf-8" and has_bom else name
    if first_decode_error(path, "utf-8") is None:
        return "utf-8-sig" if has_bom else "utf-8"
    if first_decode_error(path, "cp1252") is None:
        return "cp1252"
    return "latin-1"


def decode_error(path: Path, encoding: str, declared: str) -> InputError:
    """An InputError for a file that does not decode under `encoding`, naming the line."""
    found = first_decode_error(path, encoding)
    hint = (
        "set encoding = 'auto' (detects UTF-8, cp1252, latin-1) or the file's real encoding"
        if declared.lower() != AUTO
        else "the file mixes encodings"
    )
    if found is None:  # pragma: no cover - pandas and codecs disagree
        return InputError(path, f"cannot decode as {encoding}; {hint}")
    offset, line, bad = found
    return InputError(
        path,
        f"cannot decode as {encoding}: byte(s) {bad.hex(' ')} at offset {offset}; {hint}",
        row=line,
    )


def read_text_lines(path: Path, encoding: str, declared: str = AUTO) -> pd.Series:
    """All lines of a small-ish text file (no CSV quoting rules), as a str Series indexed 0..n-1.

    Used for tab-separated tables whose names contain quote characters (Audioscrobbler, HetRec),
    where a CSV parser would swallow lines.
    """
    check_not_empty(path)
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError:
        raise decode_error(path, encoding, declared) from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return pd.Series(lines, dtype="str").str.removesuffix("\r")


# --------------------------------------------------------------------------- CSV


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


# --------------------------------------------------------------------------- text cleaning


def clean_names(values: pd.Series) -> tuple[pd.Series, int, int]:
    """Names as str with control characters removed and edges trimmed (missing -> "").

    Returns (cleaned, rows that had control characters, rows with HTML-like markup). Markup is
    kept as text: it may be part of a real name, and guessing would lose information. Work is
    done once per distinct name, so it stays cheap on millions of rows.
    """
    codes, uniques = pd.factorize(values.astype("str"), use_na_sentinel=True)
    u = pd.Series(uniques, dtype="str")
    per_unique = np.bincount(codes[codes >= 0], minlength=len(u))
    has_control = u.str.contains(_ANY_CONTROL, regex=True).to_numpy(dtype=bool)
    cleaned = u
    if has_control.any():
        cleaned = cleaned.str.replace(_LINE_CONTROL, " ", regex=True)
        cleaned = cleaned.str.replace(_OTHER_CONTROL, "", regex=True)
    has_html = cleaned.str.contains(_HTML_LIKE, regex=True).to_numpy(dtype=bool)
    cleaned = cleaned.str.strip()
    n_control = int(per_unique[has_control].sum())
    n_html = int(per_unique[has_html].sum())
    missing = bool((codes < 0).any())
    if not missing and bool((cleaned == u).all()):
        return values.astype("str"), n_control, n_html
    table = pd.concat([cleaned, pd.Series([""], dtype="str")], ignore_index=True)
    out = table.take(np.where(codes < 0, len(cleaned), codes))
    out.index = values.index
    return out, n_control, n_html


# --------------------------------------------------------------------------- list cells


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _tokenize_list(text: str) -> list[str]:
    """Tolerant split of a malformed list cell on commas outside quotes.

    A quote only closes an item when followed by a comma or the end, so apostrophes inside names
    ("Guns N' Roses" written with single quotes) survive.
    """
    t = text.strip()
    if t.startswith("["):
        t = t[1:]
    if t.endswith("]"):
        t = t[:-1]
    out: list[str] = []
    i, n = 0, len(t)
    while i < n:
        while i < n and (t[i].isspace() or t[i] == ","):
            i += 1
        if i >= n:
            break
        quote = t[i]
        if quote in "'\"":
            j, buf = i + 1, []
            while j < n:
                c = t[j]
                if c == "\\" and j + 1 < n:
                    buf.append(t[j + 1])
                    j += 2
                    continue
                if c == quote:
                    k = j + 1
                    while k < n and t[k].isspace():
                        k += 1
                    if k >= n or t[k] == ",":
                        break
                buf.append(c)
                j += 1
            token, i = "".join(buf), j + 1
        else:
            j = t.find(",", i)
            j = n if j < 0 else j
            token, i = t[i:j], j
        token = token.strip().strip("'\"").strip()
        if token:
            out.append(token)
    return out


def _parse_list(value: object) -> tuple[list[str], bool]:
    """(items, well_formed) for one list cell; see parse_list_cell."""
    if isinstance(value, list | tuple | np.ndarray):
        items = [str(v).strip() for v in value if not _is_missing(v)]
        return [v for v in items if v], True
    if _is_missing(value):
        return [], True
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "null", "[]"):
        return [], True
    if text.startswith("[") and text.endswith("]") and len(text) <= _LIST_MAX_CHARS:
        try:
            obj = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            obj = None
        if isinstance(obj, list) and all(isinstance(v, str) for v in obj):
            return [v.strip() for v in obj if v.strip()], True
    return _tokenize_list(text), False


def parse_list_cell(value: object) -> list[str]:
    """A list-of-strings cell (`"['a', 'b']"`, `'["a"]'`, `"[]"`, NaN) as a Python list of str.

    Never evaluates code: `ast.literal_eval` is used only to read a literal, and its result is
    kept only if it is a list of str; otherwise a tolerant tokenizer splits on commas outside
    quotes. NaN, "", "nan" and "[]" give []. Items are trimmed; empty items are dropped.
    """
    return _parse_list(value)[0]


def parse_list_column(values: pd.Series) -> tuple[pd.Series, int]:
    """parse_list_cell over a column, fast: (object Series of lists, malformed cell count).

    Simple cells are split with Arrow kernels; the rest are parsed once per distinct value.
    Rows with equal complex cells may share one list object: treat the lists as read-only.
    """
    n = len(values)
    out = np.empty(n, dtype=object)
    if n == 0:
        return pd.Series(out, index=values.index, dtype=object), 0
    arr = pc.utf8_trim_whitespace(pa.array(values.astype("str"), from_pandas=True))
    inner = pc.utf8_slice_codeunits(arr, 2, -2)
    simple = np.zeros(n, dtype=bool)
    for pattern, sep in ((_SIMPLE_SQ, "', '"), (_SIMPLE_DQ, '", "')):
        hit = pc.fill_null(pc.match_substring_regex(arr, f"^{pattern}$"), False)
        mask = hit.to_numpy(zero_copy_only=False)
        if mask.any():
            lists = pc.split_pattern(inner.filter(hit), sep).to_pylist()
            out[np.flatnonzero(mask)] = _object_array(lists)
            simple |= mask
    rest = ~simple
    malformed = 0
    if rest.any():
        codes, uniques = pd.factorize(values[rest], use_na_sentinel=True)
        parsed = np.empty(len(uniques) + 1, dtype=object)
        ok = np.ones(len(uniques) + 1, dtype=bool)
        for k, u in enumerate(uniques):
            parsed[k], ok[k] = _parse_list(u)
        parsed[-1] = []
        out[rest] = parsed[codes]
        malformed = int((~ok[codes]).sum())
    return pd.Series(out, index=values.index, dtype=object), malformed


def _object_array(items: list) -> np.ndarray:
    """A 1-D object array holding `items` as they are (numpy would stack equal-length lists)."""
    return np.fromiter(items, dtype=object, count=len(items))
