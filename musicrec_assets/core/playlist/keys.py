"""Key columns as integer codes in string order (what the kernels take), and the frame helper
the steps share.

Every step reads its key columns (``user``, ``artist``, ``track_id``...) through
:func:`key_codes`, so one step accepts the three encodings it meets: plain strings (tiny test
frames, the page; coded by one hash pass), categoricals with sorted categories (the batch's
frames and parquet dictionaries; their codes, at no cost) and integers (codes already, e.g. the
batch's song numbers). Only order and equality of the codes matter, never their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..ids import sorted_codes


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``ids.sorted_codes`` with missing values coded ``len(labels)``: they sort last and group
    together, as in pandas."""
    codes, labels = sorted_codes(values)
    if len(codes) and codes.min() < 0:
        codes = np.where(codes >= 0, codes, len(labels))
    return codes, labels


def key_codes(values: pd.Series) -> np.ndarray:
    """The column's codes in the order of its values (int64), missing values last."""
    return labelled_codes(values)[0]


def labelled_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index | None]:
    """:func:`key_codes` and the labels they index (None for integer columns). A categorical
    with sorted string categories keeps its codes and categories (some maybe unused): no pass
    over the vocabulary, which ``ids.sorted_codes`` makes (360k listeners, per call)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if cats.is_monotonic_increasing and cats.inferred_type in ("string", "empty"):
            codes = values.array.codes.astype(np.int64)
            if len(codes) and codes.min() < 0:
                codes = np.where(codes >= 0, codes, len(cats))
            return codes, cats
    elif dtype.kind in "iu":
        return values.to_numpy().astype(np.int64, copy=False), None
    return _sorted_codes(values)


def with_columns(df: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    """``df.assign(**columns)`` in one concat when the names are new: ``assign`` inserts one
    column at a time (~0.1 ms each into a ``str`` column index), which made the steps' frame
    handling the bulk of a small chunk's time (the page's one listener)."""
    if len(columns) < 3 or any(c in df.columns for c in columns):
        return df.assign(**columns)  # as fast for one or two
    return pd.concat([df, pd.DataFrame(columns, index=df.index, copy=False)], axis=1)


def codes_of(df: pd.DataFrame, *cols: str) -> list[np.ndarray]:
    """:func:`key_codes` of each column."""
    return [key_codes(df[c]) for c in cols]


def joint_codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of two key columns in one sorted vocabulary, and its size (for joins)."""
    a, b = _categorize([a, b])
    return key_codes(a), key_codes(b), len(a.cat.categories)


def _categorize(
    columns: Sequence[pd.Series], dtype: pd.CategoricalDtype | None = None
) -> list[pd.Series]:
    """The columns as categoricals sharing one sorted vocabulary (default: all their values).

    Shared sorted categories make codes comparable across frames and ordered like the strings,
    so sorts, joins and de-duplication never touch a string; each column is hashed once.
    Values outside a given ``dtype``'s categories become missing.
    """
    dtypes = {id(col.dtype): col.dtype for col in columns}
    if dtype is None and len(dtypes) == 1:
        (only,) = dtypes.values()
        if isinstance(only, pd.CategoricalDtype) and only.categories.is_monotonic_increasing:
            return list(columns)  # already shared sorted categories (the batch's own frames)
    parts = []
    for col in columns:
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy()
            used = np.bincount(codes[codes >= 0], minlength=len(col.cat.categories)) > 0
            parts.append((codes, col.cat.categories, used))
        else:
            codes, uniques = pd.factorize(col)
            parts.append((codes, pd.Index(uniques), np.ones(len(uniques), dtype=bool)))
    if dtype is None:
        pool = [uniques[used] for _, uniques, used in parts]
        at, distinct = pd.factorize(pool[0].append(pool[1:]), sort=True)
        dtype = pd.CategoricalDtype(pd.Index(distinct))
        bounds = np.cumsum([0] + [len(p) for p in pool])
        wheres = []
        for i, (_, uniques, used) in enumerate(parts):
            where = np.full(len(uniques), -1, dtype=np.int64)
            where[used] = at[bounds[i] : bounds[i + 1]]
            wheres.append(where)
    else:
        wheres = [dtype.categories.get_indexer(uniques) for _, uniques, _ in parts]
    return [
        pd.Series(  # code -1 (missing) reads the appended -1
            pd.Categorical.from_codes(np.append(where, -1)[codes], dtype=dtype),
            index=col.index,
            name=col.name,
        )
        for col, (codes, _, _), where in zip(columns, parts, wheres, strict=True)
    ]


def _positions(keys: pd.Series, index: pd.Index) -> np.ndarray:
    """Row of each key in ``index`` (-1 when absent); categorical keys are looked up once per
    category, and by code alone when ``index`` holds the same categories."""
    if isinstance(keys.dtype, pd.CategoricalDtype):
        if isinstance(index.dtype, pd.CategoricalDtype) and index.dtype == keys.dtype:
            per_category = np.full(len(keys.dtype.categories) + 1, -1, dtype=np.int64)
            per_category[np.asarray(index.codes)] = np.arange(len(index))  # index is unique
            per_category[-1] = -1  # where a missing index entry (code -1) landed
        else:
            per_category = np.append(index.get_indexer(keys.cat.categories), -1)
        return per_category[keys.array.codes]
    return index.get_indexer(keys)
