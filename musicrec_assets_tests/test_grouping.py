"""Each group-wise kernel of musicrec_assets.core.grouping against a pandas/NumPy reference, on
random keys with ties and NaN, through every path (counted, sorted, radix, packed, fallback)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core import grouping

SEEDS = range(4)


def ints(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    return rng.integers(0, high, n)


def floats(rng: np.random.Generator, n: int) -> np.ndarray:
    """Coarse values (many exact ties), negative zeros and NaN."""
    values = rng.choice([-1.5, -0.0, 0.0, 0.25, 0.5, 3.0], n)
    values[rng.random(n) < 0.2] = np.nan
    return values


def key_sets(rng: np.random.Generator, n: int) -> dict[str, list[np.ndarray]]:
    """Keys taking each path of ``pack``/``lexorder``: 16-bit radix, int64 sort with row bits,
    repacking with row bits, and the over-63-bit fallback to dense ranks."""
    return {
        "radix": [ints(rng, n, 8), ints(rng, n, 30)],
        "sorted": [ints(rng, n, 500), ints(rng, n, 100_000)],
        "row_bits": [ints(rng, n, 2**20), ints(rng, n, 2**25)],
        "over_63_bits": [ints(rng, n, 2**40), ints(rng, n, 2**40), ints(rng, n, 5)],
        "huge_key": [ints(rng, n, 5), ints(rng, n, 2**62)],  # the key itself is dense-ranked
        "huge_pair": [ints(rng, n, 2**31), ints(rng, n, 2**62)],  # so is the combination
        "one_key": [ints(rng, n, 50)],
    }


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["dense_ints", "sparse_ints", "floats"])
def test_coded_and_dense_rank_match_pandas(seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    values = {
        "dense_ints": ints(rng, n, 300) - 100,  # counted (bincount), negative too
        "sparse_ints": ints(rng, n, 10**12),  # sorted
        "floats": floats(rng, n),  # sorted, NaN one group, last
    }[kind]
    distinct, codes = grouping.coded(values)
    expected = pd.Series(values).rank(method="dense", na_option="bottom").to_numpy() - 1
    np.testing.assert_array_equal(codes, expected.astype(np.int64))
    np.testing.assert_array_equal(grouping.dense_rank(values), codes)
    np.testing.assert_array_equal(distinct[codes], values)  # NaN == NaN here
    reference = np.unique(values)  # sorted; np.unique keeps one NaN, last
    np.testing.assert_array_equal(distinct, reference)


def test_coded_of_nothing() -> None:
    distinct, codes = grouping.coded(np.array([], dtype=np.int64))
    assert len(distinct) == 0 and len(codes) == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_pack_orders_rows_like_their_keys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, keys in key_sets(rng, 3000).items():
        packed = grouping.pack(keys)
        assert packed.dtype == np.int64 and (packed >= 0).all(), name
        rows = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
        # Rows compare as tuples exactly when their packed values compare as integers.
        tuples = rows.apply(tuple, axis=1)
        order = np.argsort(packed, kind="stable")
        ranked = tuples.iloc[order].tolist()
        assert ranked == sorted(tuples.tolist()), name
        same = packed[order][1:] == packed[order][:-1]
        equal = np.array([a == b for a, b in zip(ranked[1:], ranked[:-1], strict=True)])
        np.testing.assert_array_equal(same, equal, err_msg=name)


def test_pack_leaves_spare_bits() -> None:
    keys = [np.array([3, 1, 2]), np.array([0, 5, 5])]
    packed = grouping.pack(keys, spare_bits=4)
    assert int(packed.max()).bit_length() <= 63 - 4
    wide = grouping.pack([np.array([2**62, 0]), np.array([1, 1])], spare_bits=4)  # dense-ranked
    assert wide[0] > wide[1] and int(wide.max()).bit_length() <= 63 - 4
    rng = np.random.default_rng(0)
    keys = [ints(rng, 3000, 2**40), ints(rng, 3000, 2**40)]
    tight = grouping.pack(keys, spare_bits=45)  # even both dense ranks side by side do not fit
    assert int(tight.max()).bit_length() <= 63 - 45
    np.testing.assert_array_equal(tight, grouping.dense_rank(grouping.pack(keys)))


@pytest.mark.parametrize("seed", SEEDS)
def test_lexorder_is_a_stable_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, keys in key_sets(rng, 3000).items():
        expected = np.lexsort(keys[::-1])  # np.lexsort: last key most significant, stable
        np.testing.assert_array_equal(grouping.lexorder(keys), expected, err_msg=name)


@pytest.mark.parametrize("seed", SEEDS)
def test_runs_group_equal_keys_stably(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, keys in key_sets(rng, 2000).items():
        order, start = grouping.runs(keys)
        np.testing.assert_array_equal(order, np.lexsort(keys[::-1]), err_msg=name)
        frame = pd.DataFrame({f"k{i}": k[order] for i, k in enumerate(keys)})
        np.testing.assert_array_equal(start, ~frame.duplicated().to_numpy(), err_msg=name)
    grouped = [np.sort(ints(rng, 100, 10))]
    order, start = grouping.runs(grouped)  # already grouped: the rows as they are
    np.testing.assert_array_equal(order, np.arange(100))


@pytest.mark.parametrize("seed", SEEDS)
def test_cumcount_and_first_rows_match_pandas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, keys in key_sets(rng, 2000).items():
        frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
        expected = frame.groupby(list(frame.columns), sort=False).cumcount().to_numpy()
        np.testing.assert_array_equal(grouping.cumcount(keys), expected, err_msg=name)
        np.testing.assert_array_equal(
            grouping.first_rows(keys), ~frame.duplicated().to_numpy(), err_msg=name
        )


def minmax_reference(
    values: np.ndarray, group: np.ndarray, constant: float, missing: float | None
) -> np.ndarray:
    """Per-group min-max in pandas: min/max skip NaN; constant (or all-NaN) groups get
    ``constant``; NaN values get ``missing`` (None: NaN)."""
    s = pd.Series(values)
    low = s.groupby(group).transform("min").to_numpy()
    span = s.groupby(group).transform("max").to_numpy() - low
    out = np.full(len(values), constant)
    varies = span > 0
    out[varies] = (values[varies] - low[varies]) / span[varies]
    out[np.isnan(values)] = np.nan if missing is None else missing
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("constant", "missing"), [(1.0, 1.0), (0.5, None)])
def test_minmax_per_group_matches_pandas(seed: int, constant: float, missing: float | None) -> None:
    """Both rules in use: the playlist's Base (1.0, 1.0) and the blend's (0.5, NaN kept)."""
    rng = np.random.default_rng(seed)
    n = 3000
    group = ints(rng, n, 400)
    values = rng.random(n).round(2)
    values[rng.random(n) < 0.15] = np.nan
    values[group % 7 == 0] = 0.75  # constant groups
    values[group % 11 == 0] = np.nan  # groups with no known value
    out = grouping.minmax_per_group(values, group, constant=constant, missing=missing)
    np.testing.assert_array_equal(out, minmax_reference(values, group, constant, missing))
    known = ~np.isnan(out)
    assert ((out[known] >= 0) & (out[known] <= 1)).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_set_operations_match_numpy_and_pandas(seed):
    """keys_in / sorted_in are np.isin, duplicate_count is duplicated().sum(), group_sizes is
    groupby().size() in key order, on int64 keys with repeats, huge values and empty pools."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.integers(0, 50, 400), rng.integers(0, 2**62, 20)])
    pool = np.concatenate([rng.integers(0, 50, 30), values[-5:]])
    assert grouping.keys_in(values, pool).tolist() == np.isin(values, pool).tolist()
    assert not grouping.keys_in(values, pool[:0]).any()
    got = grouping.sorted_in(np.sort(values), np.sort(pool))
    assert got.tolist() == np.isin(np.sort(values), pool).tolist()
    assert grouping.duplicate_count(values) == int(pd.Series(values).duplicated().sum())
    expected = pd.Series(values).groupby(values).size().to_numpy()
    assert grouping.group_sizes(values).tolist() == expected.tolist()
    assert grouping.group_sizes(values[:0]).tolist() == []
