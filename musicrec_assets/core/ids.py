"""Listener and artist keys as integer codes: the one place strings become integers.

At Last.fm-360K scale the keys are 17.5M strings; sorting them (``np.unique`` on a NumPy unicode
array) took minutes per stage and gigabytes of memory. ``interaction_splits`` therefore stores
``user`` and ``artist`` as categoricals with sorted categories, and everything downstream asks
this module for codes: free for categoricals, one hash pass (``pd.factorize``) for plain strings.
The order of a vocabulary is always the string order, so results never depend on the encoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _categories(values: pd.Series) -> np.ndarray:
    return values.cat.categories.to_numpy().astype(object)


def factorize_sorted(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes, vocabulary) with the vocabulary sorted: ``np.unique(..., return_inverse=True)``
    for string keys, without sorting the strings when ``values`` is a categorical.

    Unused categories are dropped, so the vocabulary is exactly the values present.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = _categories(s).astype(str).astype(object)
        codes = s.cat.codes.to_numpy().astype(np.int64)
        if (codes < 0).any():
            raise ValueError("missing key among the values to factorize")
        present = np.bincount(codes, minlength=len(cats)) > 0
        order = np.argsort(cats, kind="stable")
        if np.any(order != np.arange(len(cats))):  # categories not in string order
            cats, present = cats[order], present[order]
            rank = np.empty(len(order), np.int64)
            rank[order] = np.arange(len(order))
            codes = rank[codes]
        new = np.cumsum(present) - 1
        return new[codes], cats[present]
    codes, uniques = pd.factorize(s.astype(str), sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


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
