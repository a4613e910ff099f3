"""Group-wise operations on integer keys: the one home for rank, pack, sort, group and scale.

Batch frames have millions of rows keyed by integer codes (``ids``). Every sort, join and
de-duplication works on those codes, packed into one int64 where possible, so one vectorised sort
replaces a pass per key and pandas' hashing. Each function has one rule, stated in its docstring
and checked against a pandas/NumPy reference in ``test_grouping.py``:

- ``coded`` / ``dense_rank``: distinct values sorted, **NaN last as one group**;
- ``pack``: order-preserving int64 of several non-negative keys, **never fails** (dense-ranks what
  does not fit in 63 bits);
- ``lexorder``: stable lexicographic argsort (``np.lexsort`` with the first key most significant);
- ``runs``, ``cumcount``, ``first_rows``: groups of equal keys, as ``groupby(sort=False)``;
- ``minmax_per_group``: per-group min-max scaling, the caller choosing the value of constant
  groups and of missing values (the playlist and the blend use different ones);
- ``keys_in`` / ``sorted_in``: ``np.isin`` of int64 keys by sorting; ``duplicate_count``: rows
  whose key appeared before (``duplicated().sum()``); ``group_sizes``: rows per key.

Every kernel was measured against the library calls that give the same bytes
(``benchmarks/bench_grouping.py``, 1M rows, best of 7, 2026-12-08) and is kept because each of
those was slower there; each docstring gives the figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def coded(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values (sorted, NaN last) and each row's index into them.

    Integers spanning not much more than the row count are counted in linear time; anything
    else takes one argsort. ``pd.factorize(sort=True, use_na_sentinel=False)`` gives the same
    codes but hashes every row: 4.7 ms vs 2.4 for ints, 69 vs 23 ms for continuous scores (it
    wins only on floats with few distinct values, 6.6 vs 48 ms); ``pc.rank(tiebreaker="dense")``
    is slower on all three (5.9, 124, 58 ms).
    """
    n = len(values)
    if values.dtype.kind in "iu" and n:
        low = int(values.min())
        span = int(values.max()) - low + 1
        if span <= 2 * n + 1024:
            shifted = values - low
            present = np.bincount(shifted, minlength=span) > 0
            return np.flatnonzero(present) + low, np.cumsum(present)[shifted] - 1
    order = np.argsort(values)
    ordered = values[order]
    new = np.ones(n, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    if values.dtype.kind == "f":
        new[1:] &= ~(np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))  # one NaN group
    codes = np.empty(n, dtype=np.int64)
    codes[order] = np.cumsum(new) - 1
    return ordered[new], codes


def dense_rank(values: np.ndarray) -> np.ndarray:
    """0, 1, 2... in ascending order of value, equal values sharing a rank (NaN last)."""
    return coded(values)[1]


def pack(keys: Sequence[np.ndarray], spare_bits: int = 0) -> np.ndarray:
    """One int64 per row, ordered like the rows' non-negative integer keys (first most
    significant), with ``spare_bits`` free low bits. Keys are shifted side by side; when the next
    one does not fit, the combination so far (or the key) is replaced by its dense rank."""
    n = len(keys[0])
    packed = np.zeros(n, dtype=np.int64)
    used = 0
    for key in keys:
        key = np.asarray(key, dtype=np.int64)
        width = int(key.max()).bit_length() if n else 0
        if used + width + spare_bits > 63:
            packed = dense_rank(packed)
            used = int(packed.max()).bit_length()
        if used + width + spare_bits > 63:
            key = dense_rank(key)
            width = int(key.max()).bit_length()
        if used + width + spare_bits > 63:
            packed = dense_rank((packed << width) | key)
            used = int(packed.max()).bit_length()
        else:
            packed = (packed << width) | key
            used += width
    return packed


def lexorder(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Stable argsort of the rows by non-negative integer keys, most significant first.

    Keys and row number are packed into one int64 and sorted as plain integers: one vectorised
    sort instead of one stable pass per key. Three keys at 1M rows: 8.9 ms, against 61 ms for
    ``pyarrow.compute.sort_indices`` on a table of the keys and 216 ms for ``np.lexsort``.
    """
    n = len(keys[0])
    packed = pack(keys)
    if n and packed.max() < 2**16:  # a stable sort of 16-bit keys is a linear radix sort
        return np.argsort(packed.astype(np.uint16), kind="stable")
    row_bits = max(n - 1, 0).bit_length()
    if n and int(packed.max()).bit_length() + row_bits > 63:
        packed = pack(keys, row_bits)
    return np.sort((packed << row_bits) | np.arange(n)) & ((1 << row_bits) - 1)


def runs(keys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A stable order grouping equal keys together, and where each group starts in it.

    Sorting packed integers is several times faster than hashing them (pandas' duplicated,
    groupby); keys already grouped skip the sort.
    """
    key = pack(keys)
    n = len(key)
    grouped = n == 0 or bool((key[1:] >= key[:-1]).all())
    order = np.arange(n) if grouped else lexorder([key])
    ordered = key[order]
    start = np.ones(n, dtype=bool)
    start[1:] = ordered[1:] != ordered[:-1]
    return order, start


def cumcount(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Each row's position among the rows with the same keys (``groupby(keys).cumcount()``:
    17 ms vs 74 ms for two keys at 1M rows)."""
    order, start = runs(keys)
    step = np.arange(len(order))
    out = np.empty(len(order), dtype=np.int64)
    out[order] = step - np.maximum.accumulate(np.where(start, step, 0))
    return out


def first_rows(keys: Sequence[np.ndarray]) -> np.ndarray:
    """True on the first row of each distinct key combination (``~duplicated(keys)``: 13 ms vs
    55 ms for two keys at 1M rows)."""
    order, start = runs(keys)
    first = np.zeros(len(order), dtype=bool)
    first[order[start]] = True  # the order is stable
    return first


def minmax_per_group(
    values: np.ndarray, group: np.ndarray, *, constant: float, missing: float | None = None
) -> np.ndarray:
    """``values`` (finite or NaN) min-max scaled to [0, 1] within each group code (>= 0).

    Minimum and maximum skip NaN, as pandas' grouped min/max do. Rows of a group whose known
    values are all equal (or that has none) get ``constant``; NaN rows get ``missing`` (None:
    they stay NaN). The playlist's Base uses 1.0 for both, the blend 0.5 and None. Segment
    reductions over rows grouped by :func:`runs` (no sort when already grouped, as both callers'
    rows are): grouped ``transform("min"/"max")`` gives the same bytes in 17 ms vs 6 ms at 1M
    rows, and an ``np.fmin.at`` scatter took twice as long on the blend's 4M rows.
    """
    n = len(values)
    if not n:
        return np.empty(0)
    grouped = bool((group[1:] >= group[:-1]).all())
    if grouped:
        xs, starts = values, np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    else:
        order, start = runs([group])
        xs, starts = values[order], np.flatnonzero(start)
    counts = np.diff(np.append(starts, n))
    low = np.repeat(np.fmin.reduceat(xs, starts), counts)
    span = np.repeat(np.fmax.reduceat(xs, starts), counts) - low
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (xs - low) / span, constant)
    out[np.isnan(xs)] = np.nan if missing is None else missing
    if grouped:
        return out
    result = np.empty_like(out)
    result[order] = out
    return result


def keys_in(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` for int64 keys. At 17.5M keys NumPy 2.4's ``isin`` (a hash-based
    ``np.unique`` inside) takes 30-40 s, and so does a binary search of unsorted values (a cache
    miss per step); sorting both sides first takes ~3 s. ``pyarrow.compute.is_in`` gives the same
    answer in 116 ms vs 40 ms at 1M keys (``bench_grouping.py``), 867 vs 623 ms at 5M."""
    order = np.argsort(values)
    out = np.empty(len(values), dtype=bool)
    out[order] = sorted_in(values[order], np.sort(pool))
    return out


def sorted_in(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` when both are sorted: one sequential binary search."""
    if not len(pool):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(pool, values), len(pool) - 1)
    return pool[pos] == values


def duplicate_count(keys: np.ndarray) -> int:
    """Rows whose key appeared on an earlier row (``duplicated().sum()``: 20 ms vs 5 ms at 1M
    keys), by one sort."""
    ordered = np.sort(keys)
    return int(np.count_nonzero(ordered[1:] == ordered[:-1]))


def group_sizes(keys: np.ndarray) -> np.ndarray:
    """The number of rows of each distinct key, in key order (``groupby(keys).size()``), by one
    sort: hash-grouping three string columns of 36M playlist rows was the slow part of a check
    (``groupby().size()`` of 1M int64 keys: 71 ms vs 7 ms)."""
    ordered = np.sort(keys)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else ordered
    return np.diff(np.r_[starts, len(ordered)])
