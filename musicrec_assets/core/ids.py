"""Listener and artist keys as integer codes: the one place strings become integers.

At Last.fm-360K scale the keys are 17.5M strings; sorting them (``np.unique`` on a NumPy unicode
array) took minutes per stage and gigabytes of memory. ``interaction_splits`` therefore stores
``user`` and ``artist`` as categoricals with sorted categories, and everything downstream asks
this module for codes: free for categoricals, one hash pass (``pd.factorize``) for plain strings.
The order of a vocabulary is always the string order, so results never depend on the encoding.
Keys of several tables compared for equality only (``shared_codes``, ``frame_keys``) share codes
in no particular order instead, which saves sorting the strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of the values in string order (-1 if missing) and the strings they stand for.

    Only values that occur get a code, so unused categories cost nothing; categoricals are never
    converted row by row, and their categories are sorted only if they are not already.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        codes, strings = pd.factorize(values.astype(str), sort=True)
        return codes, strings
    codes = values.cat.codes.to_numpy()
    cats = values.cat.categories.astype(str)
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(cats)))
    strings = cats[used]
    lookup = np.full(len(cats) + 1, -1, dtype=np.int64)  # the last slot is for code -1
    if strings.is_monotonic_increasing:
        lookup[used] = np.arange(len(used))
    else:
        order = np.argsort(strings.to_numpy(), kind="stable")
        lookup[used[order]] = np.arange(len(used))
        strings = strings[order]
    return lookup[codes], strings


def factorize_sorted(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes, vocabulary) with the vocabulary sorted: ``np.unique(..., return_inverse=True)``
    for string keys, without sorting the strings when ``values`` is a categorical.

    Unused categories are dropped, so the vocabulary is exactly the values present; a missing
    key is an error (keys are never null where this is used).
    """
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    codes, strings = sorted_codes(s)
    if (codes < 0).any():
        raise ValueError("missing key among the values to factorize")
    return codes.astype(np.int64, copy=False), np.asarray(strings, dtype=object)


def vocab_of(values: pd.Series) -> pd.Index:
    """The distinct keys of a column as an Index (a categorical's categories, unsorted ok)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Index(values.cat.categories.astype(str))
    return pd.Index(pd.unique(values.to_numpy().astype(str)))


def codes_in(vocab: pd.Index, values: Any) -> np.ndarray:
    """Position of each value in ``vocab`` (-1 if absent); one lookup per category for
    categoricals instead of one per row."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        lookup = vocab.get_indexer(values.cat.categories.astype(str))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, lookup[codes], -1)
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    return vocab.get_indexer(pd.Index(np.asarray(values, dtype=object).astype(str)))


def as_sorted_categorical(values: pd.Series) -> pd.Categorical:
    """A key column as a categorical with sorted categories (compact on disk and in memory)."""
    codes, vocab = factorize_sorted(values)
    return pd.Categorical.from_codes(codes, categories=pd.Index(vocab, dtype=object))


def shared_codes(columns: Sequence[pd.Series]) -> tuple[list[np.ndarray], np.ndarray]:
    """Codes of several key columns in one vocabulary (returned too), so columns of different
    frames compare as integers whatever their encoding (str, object, categoricals with different
    or unused categories). Values compare as strings, like everywhere in this module; missing
    values get code -1, so they match each other (as in ``merge`` and ``duplicated``). The codes
    are for equality only, not in string order. Strings are hashed once per row (free for
    categoricals), then only the distinct values are compared; a column keeps its own codes
    whenever they already are the shared ones (the first column; categoricals over the same
    categories in the same order, which then compare by category).
    """
    cats = [s.cat.categories for s in columns if isinstance(s.dtype, pd.CategoricalDtype)]
    if len(cats) == len(columns) and all(c.equals(cats[0]) for c in cats[1:]):  # in order
        names = np.asarray(cats[0].astype(str), dtype=object)
        return [s.cat.codes.to_numpy() for s in columns], names
    local = []
    for s in columns:
        if isinstance(s.dtype, pd.CategoricalDtype):
            local.append((s.cat.codes.to_numpy(), s.cat.categories))
        else:
            local.append(pd.factorize(s))
    names = [np.asarray(pd.Index(u).astype(str), dtype=object) for _, u in local]
    shared, vocab = pd.factorize(np.concatenate([np.empty(0, dtype=object), *names]))
    bounds = np.cumsum([0, *map(len, names)])
    out = []
    for (codes, _), lo, hi in zip(local, bounds[:-1], bounds[1:], strict=True):
        if np.array_equal(shared[lo:hi], np.arange(hi - lo)):
            out.append(codes)
        else:  # the appended -1 maps code -1 (missing) to itself
            out.append(np.append(shared[lo:hi], -1).astype(np.int32)[codes])
    return out, np.asarray(vocab, dtype=object)


def shared_categories(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> list[pd.DataFrame]:
    """The frames with their ``columns`` (where present) as categoricals over shared categories:
    each string column is hashed once, however many keys (``frame_keys``) it is part of then."""
    out = [f.copy(deep=False) for f in frames]
    for col in columns:
        having = [f for f in out if col in f]
        codes, vocab = shared_codes([f[col] for f in having])
        dtype = pd.CategoricalDtype(pd.Index(vocab, dtype=object))
        for f, c in zip(having, codes, strict=True):
            f[col] = pd.Categorical.from_codes(c, dtype=dtype)
    return out


def frame_keys(
    frames: Sequence[pd.DataFrame], columns: Sequence[str] = ("user", "artist")
) -> list[np.ndarray]:
    """One int64 per row of each frame, equal iff the rows agree on ``columns``: compare or
    deduplicate 17.5M (user, artist) pairs of two tables by sorting integers, not strings."""
    keys = [np.zeros(len(f), dtype=np.int64) for f in frames]
    size = 1
    for col in columns:
        codes, vocab = shared_codes([f[col] for f in frames])
        n = len(vocab) + 1  # and missing
        size *= n
        if size > np.iinfo(np.int64).max:
            raise OverflowError(f"too many distinct ({', '.join(columns)}) for int64 keys")
        for k, c in zip(keys, codes, strict=True):  # in place: no 17.5M-row temporaries
            k *= n
            k += c
            k += 1  # missing (-1) becomes 0
    return keys
