"""The kernels of ``core/grouping.py`` against their library equivalents, at 1M rows.

For each operation: the kernel and each library call that gives the same answer, best of
``--repeat`` wall times, and whether the outputs are identical (the library's output mapped to
the kernel's form: 0-based, NaN last). A kernel stays hand-written only where a library call is
slower here; its docstring says so. Data: the shapes the playlist batch sorts and groups, i.e.
listener codes (few, grouped), artist codes (many), scores with ties and NaN.

Run from the repo root::

    uv run python benchmarks/bench_grouping.py
    uv run python benchmarks/bench_grouping.py --rows 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from musicrec_assets.core import grouping


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last output."""
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def data(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    users = max(rows // 300, 1)  # ~300 candidates per listener, as the playlist batch has
    score = rng.choice(np.linspace(0, 1, 50), rows)  # coarse: many exact ties
    score[rng.random(rows) < 0.05] = np.nan
    return {
        "user": np.sort(rng.integers(0, users, rows)),  # grouped, as the batch's chunks are
        "artist": rng.integers(0, 160_000, rows),  # a 360k-scale artist vocabulary
        "track": rng.integers(0, 3_000_000, rows),
        "score": score,
        "shuffled_user": rng.integers(0, users, rows),
        "continuous": rng.random(rows),
    }


def compare(name: str, rows: list[tuple[str, float, Any]], reference: Any) -> None:
    for label, seconds, out in rows:
        same = "" if out is None else ("same" if np.array_equal(out, reference) else "DIFFERENT")
        print(f"{name:24s} {label:48s} {seconds * 1000:9.1f} ms  {same}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    d, r = data(args.rows), args.repeat
    print(f"{args.rows:,} rows, best of {r}")

    # lexorder (pack + one int64 sort) vs Arrow's stable multi-key sort and np.lexsort.
    keys = [d["user"], grouping.dense_rank(-d["score"]), d["artist"]]
    t, ref = best(lambda: grouping.lexorder(keys), r)
    table = pa.table({f"k{i}": k for i, k in enumerate(keys)})
    by = [(f"k{i}", "ascending") for i in range(len(keys))]
    t_pc, out_pc = best(lambda: pc.sort_indices(table, sort_keys=by).to_numpy(), r)
    t_np, out_np = best(lambda: np.lexsort(keys[::-1]), r)
    compare(
        "lexorder",
        [
            ("grouping.lexorder", t, ref),
            ("pyarrow.compute.sort_indices", t_pc, out_pc),
            ("np.lexsort", t_np, out_np),
        ],
        ref,
    )

    # coded / dense_rank: ints spanning the row count (counted), coarse floats with ties and NaN,
    # continuous floats (recommendation scores; sorted).
    for label, values in (
        ("ints", d["shuffled_user"]),
        ("coarse floats", d["score"]),
        ("continuous", d["continuous"]),
    ):
        t, ref = best(lambda v=values: grouping.dense_rank(v), r)
        t_f, out_f = best(lambda v=values: pd.factorize(v, sort=True, use_na_sentinel=False)[0], r)
        t_rank, out_rank = best(
            lambda v=values: (
                pc.rank(
                    pa.array(v, from_pandas=True),
                    sort_keys="ascending",
                    tiebreaker="dense",
                )
                .to_numpy()
                .astype(np.int64)
                - 1
            ),
            r,
        )
        compare(
            f"dense_rank {label}",
            [
                ("grouping.dense_rank (coded)", t, ref),
                ("pd.factorize(sort=True, use_na_sentinel=False)", t_f, out_f),
                ('pc.rank(tiebreaker="dense") - 1', t_rank, out_rank),
            ],
            ref,
        )

    # cumcount and first_rows over (listener, artist), rows not grouped by artist.
    pair = [d["user"], d["artist"]]
    frame = pd.DataFrame({"u": d["user"], "a": d["artist"]})
    t, ref = best(lambda: grouping.cumcount(pair), r)
    t_pd, out_pd = best(lambda: frame.groupby(["u", "a"], sort=False).cumcount().to_numpy(), r)
    compare(
        "cumcount", [("grouping.cumcount", t, ref), ("groupby().cumcount()", t_pd, out_pd)], ref
    )
    t, ref = best(lambda: grouping.first_rows(pair), r)
    t_pd, out_pd = best(lambda: (~frame.duplicated(["u", "a"])).to_numpy(), r)
    compare("first_rows", [("grouping.first_rows", t, ref), ("~duplicated()", t_pd, out_pd)], ref)

    # minmax_per_group (the playlist's rule) vs grouped transform("min"/"max").
    score, user = d["score"], d["user"]

    def pandas_minmax() -> np.ndarray:
        s = pd.Series(score)
        low = s.groupby(user).transform("min").to_numpy()
        span = s.groupby(user).transform("max").to_numpy() - low
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(span > 0, (score - low) / span, 1.0)
        out[np.isnan(score)] = 1.0
        return out

    t, ref = best(lambda: grouping.minmax_per_group(score, user, constant=1.0, missing=1.0), r)
    t_pd, out_pd = best(pandas_minmax, r)
    compare(
        "minmax_per_group",
        [("grouping.minmax_per_group", t, ref), ('groupby().transform("min"/"max")', t_pd, out_pd)],
        ref,
    )

    # keys_in (sort both sides) vs Arrow's hash set and NumPy's isin; duplicate_count and
    # group_sizes (one sort) vs pandas' hashing, on int64 pair keys of the 360k-scale shape.
    rng = np.random.default_rng(1)
    values = d["user"] * 2**32 + d["artist"]
    pool = np.concatenate([values[::2], rng.integers(0, 2**40, len(values) // 2)])
    t, ref = best(lambda: grouping.keys_in(values, pool), r)
    t_pc, out_pc = best(
        lambda: pc.is_in(pa.array(values), value_set=pa.array(pool)).to_numpy(zero_copy_only=False),
        r,
    )
    t_np, out_np = best(lambda: np.isin(values, pool), r)
    compare(
        "keys_in",
        [
            ("grouping.keys_in", t, ref),
            ("pyarrow.compute.is_in", t_pc, out_pc),
            ("np.isin", t_np, out_np),
        ],
        ref,
    )
    series = pd.Series(values)
    t, ref = best(lambda: grouping.duplicate_count(values), r)
    t_pd, out_pd = best(lambda: int(series.duplicated().sum()), r)
    compare(
        "duplicate_count",
        [("grouping.duplicate_count", t, ref), ("duplicated().sum()", t_pd, out_pd)],
        ref,
    )
    t, ref = best(lambda: grouping.group_sizes(values), r)
    t_pd, out_pd = best(lambda: series.groupby(values).size().to_numpy(), r)
    compare(
        "group_sizes", [("grouping.group_sizes", t, ref), ("groupby().size()", t_pd, out_pd)], ref
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
