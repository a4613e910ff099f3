"""Streamed Parquet writes: one row group per frame, dictionary keys, atomic like every write."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyarrow.parquet as pq
import pytest

from musicrec_assets.core.artifacts import read_parquet, write_parquet, write_parquet_chunks

EMPTY = pd.DataFrame({"user": pd.Series([], dtype=str), "score": pd.Series([], dtype=float)})


def frames() -> list[pd.DataFrame]:
    return [
        pd.DataFrame({"user": ["b", "a", "b"], "score": [1.0, 2.0, 3.0]}),
        pd.DataFrame({"user": ["c", "a"], "score": [4.0, float("nan")]}),
    ]


def test_chunks_become_row_groups_and_dictionary_columns_read_as_categoricals(tmp_path):
    path = tmp_path / "t.parquet"
    rows = write_parquet_chunks(iter(frames()), path, empty=EMPTY, dictionary=("user",))
    assert rows == 5
    assert pq.ParquetFile(path).metadata.num_row_groups == 2
    back = read_parquet(path)
    assert isinstance(back["user"].dtype, pd.CategoricalDtype)
    expected = pd.concat(frames(), ignore_index=True)
    pd.testing.assert_frame_equal(back.astype({"user": str}), expected)


def test_no_chunks_writes_the_empty_table(tmp_path):
    path = tmp_path / "t.parquet"
    assert write_parquet_chunks(iter([]), path, empty=EMPTY) == 0
    back = read_parquet(path)
    assert back.empty and list(back.columns) == ["user", "score"]


def test_a_failure_mid_stream_leaves_the_old_file(tmp_path):
    path = tmp_path / "t.parquet"
    write_parquet(frames()[0], path)

    def broken() -> Iterator[pd.DataFrame]:
        yield frames()[1]
        raise RuntimeError("stage failed")

    with pytest.raises(RuntimeError, match="stage failed"):
        write_parquet_chunks(broken(), path, empty=EMPTY)
    pd.testing.assert_frame_equal(read_parquet(path), frames()[0])
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temp file left behind


def test_row_groups_carry_only_the_categories_they_use(tmp_path):
    users = [f"listener{i:04d}" for i in range(1000)]
    df = pd.DataFrame(
        {"user": pd.Categorical(users * 2, categories=users), "plays": range(2000)}
    ).sort_values("user", ignore_index=True)
    path = tmp_path / "t.parquet"
    write_parquet(df, path, row_group_size=100)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 20
    first = pq.ParquetFile(path).read_row_group(0).column("user")
    assert len(first.combine_chunks().dictionary) == 50  # not all 1,000 listeners
    back = read_parquet(path)
    assert isinstance(back["user"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(back.astype({"user": str}), df.astype({"user": str}))
    write_parquet(df.iloc[:0], path, row_group_size=100)
    assert read_parquet(path).empty
