"""Serving lookups by listener: one row group found by its statistics, the same rows as a scan."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow.parquet as pq
import pytest

from gradio_app.lookup import ListenerDirectory, ListenerIndex
from musicrec_assets.core.artifacts import write_parquet


def table(categorical: bool) -> pd.DataFrame:
    users = [f"u{i:03d}" for i in range(40) for _ in range(i % 7 + 1)]  # 1 to 7 rows each
    df = pd.DataFrame({"user": users, "rank": [i % 7 for i in range(len(users))]})
    df["artist"] = [f"a{i % 11}" for i in range(len(df))]
    df = df.sort_values(["user", "rank"], ignore_index=True)
    return df.astype({"user": "category", "artist": "category"}) if categorical else df


@pytest.mark.parametrize("categorical", [True, False])
@pytest.mark.parametrize("shuffled", [False, True])
def test_rows_match_a_scan_of_the_table(tmp_path, categorical, shuffled):
    df = table(categorical)
    if shuffled:  # not sorted by listener: still correct, only less selective
        df = df.sample(frac=1, random_state=0).reset_index(drop=True)
    path = tmp_path / "t.parquet"
    write_parquet(df, path, row_group_size=9)  # listeners straddle row groups
    index = ListenerIndex(path, sort=["rank"])
    assert index.groups == pq.ParquetFile(path).metadata.num_row_groups > 10
    assert index.ordered is not shuffled
    plain = df.astype({"user": str, "artist": str})
    for user in ["u000", "u006", "u013", "u039"]:
        got = index.rows([user])
        want = plain[plain["user"] == user].sort_values("rank", kind="stable")
        pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_dtype=False)
        assert got["user"].map(type).eq(str).all()  # plain strings, not categoricals
    assert index.rows(["nobody", "u0"]).empty
    assert list(index.rows(["nobody"]).columns) == ["user", "rank", "artist"]
    assert "u020" in index and "u040" not in index
    odd = index.rows(["u006"], where={"artist": "a3"})
    assert len(odd) and set(odd["artist"]) == {"a3"} and set(odd["user"]) == {"u006"}
    both = index.rows(["u002", "u001"])
    assert list(dict.fromkeys(both["user"])) == ["u001", "u002"]  # sort by rank is stable


def test_the_cache_holds_a_bounded_number_of_groups(tmp_path):
    path = tmp_path / "t.parquet"
    write_parquet(table(True), path, row_group_size=5)
    index = ListenerIndex(path, cached=3)
    for i in range(40):
        index.rows([f"u{i:03d}"])
    assert len(index._cache) == 3


def test_directory_searches_by_prefix_and_finds_the_most_active(tmp_path):
    df = pd.DataFrame(
        {"user": ["bob", "Alice", "alan", "bob", "Carol"], "plays": [5, 1, 2, 9, 3]}
    ).astype({"user": "category"})
    path = tmp_path / "s.parquet"
    write_parquet(df, path, row_group_size=2)
    directory = ListenerDirectory(path)
    assert len(directory) == 4
    assert directory.search("al") == ["alan", "Alice"]
    assert directory.search("", 2) == ["alan", "Alice"]
    assert directory.search("z") == []
    assert directory.most_active == "bob"


def test_concurrent_requests_read_safely(tmp_path):
    """The page and the API look listeners up from many threads at once (a shared Parquet
    reader crashed the server under 20 concurrent clients)."""
    users = [f"u{i:05d}" for i in range(4000) for _ in range(5)]
    df = pd.DataFrame({"user": users, "rank": range(len(users))}).astype({"user": "category"})
    df["payload"] = [f"track {i}" for i in range(len(df))]
    path = tmp_path / "t.parquet"
    write_parquet(df, path, row_group_size=500)
    index = ListenerIndex(path, cached=1)  # every lookup reads a row group
    wanted = [f"u{i:05d}" for i in range(0, 4000, 7)]

    def look(user: str) -> list[int]:
        return index.rows([user])["rank"].tolist()

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(look, wanted * 3))
    assert got == [list(range(int(u[1:]) * 5, int(u[1:]) * 5 + 5)) for u in wanted * 3]
