"""Cells -> typed columns: names cleaned, play counts, numbers and timestamps parsed.

Every play count must parse (a bad one is an error naming its row). Of audio features, popularity
and timestamps a few bad cells become NaN / NaT (noted); more than `BAD_SHARE` of them is an error
naming the first bad row, since then the column is probably the wrong one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .report import _Tally
from .tables import Column, Table

BAD_SHARE = 0.01  # up to this share of unparsable dates / features becomes NaT / NaN (noted)
MAX_PLAYS = 1_000_000_000  # one row claiming more plays than this is a wrong column, not a fan

_NS_MIN = pd.Timestamp("1678-01-01", tz="UTC")
_NS_MAX = pd.Timestamp("2262-01-01", tz="UTC")
_UTC_NS = "datetime64[ns, UTC]"
_NAT = np.iinfo("int64").min

# Control characters removed from names: C0 (tab/CR/LF become a space first), DEL and C1.
_ANY_CONTROL = r"[\x00-\x1f\x7f-\x9f]"
_LINE_CONTROL = r"[\t\n\r]+"
_OTHER_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_HTML_LIKE = r"<[A-Za-z/!][^>]*>"


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


def _name_column(values: pd.Series, what: str, tally: _Tally) -> pd.Series:
    cleaned, n_control, n_html = clean_names(values)
    tally.note(f"control characters stripped from {what}", n_control)
    tally.note(f"HTML-like markup in {what} (kept as text)", n_html)
    return cleaned


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
