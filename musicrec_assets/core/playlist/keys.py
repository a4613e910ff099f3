"""Key columns as integer codes in string order: what the steps' kernels take."""

from __future__ import annotations

from collections.abc import Sequence

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
        return per_category[keys.cat.codes.to_numpy()]
    return index.get_indexer(keys)


def _keys(df: pd.DataFrame, *cols: str) -> list[np.ndarray]:
    """The columns' :func:`_sorted_codes`: the kernels below take integer keys."""
    return [_sorted_codes(df[c])[0] for c in cols]
