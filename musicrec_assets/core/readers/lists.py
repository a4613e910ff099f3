"""List cells (`"['a', 'b']"`: Spotify genres and artist credits) as Python lists of str.

Read without evaluating code, fast on millions of rows, tolerant of malformed cells (counted).
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_LIST_MAX_CHARS = 100_000  # longer list cells skip ast.literal_eval (cost/recursion guard)
# List cells that need no parser: only single-quoted (or only double-quoted) items without
# escapes, quotes or edge whitespace inside. Everything else goes through parse_list_cell.
_SQ_ITEM = r"'[^'\\\s\pZ](?:[^'\\]*[^'\\\s\pZ])?'"  # RE2 syntax (Arrow kernels)
_DQ_ITEM = r'"[^"\\\s\pZ](?:[^"\\]*[^"\\\s\pZ])?"'
_SIMPLE_SQ = rf"\[{_SQ_ITEM}(?:, {_SQ_ITEM})*\]"
_SIMPLE_DQ = rf"\[{_DQ_ITEM}(?:, {_DQ_ITEM})*\]"


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
