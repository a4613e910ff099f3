"""Reading a Spark stage's Parquet folder back as the pandas table the local engine returns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

TIME_COLUMNS = ("played_at", "first_played", "last_played")
_UTC_NS = pa.timestamp("ns", tz="UTC")


def read_frame(path: str | Path, sort: tuple[str, ...] = ("user", "artist")) -> pd.DataFrame:
    """A Spark output folder as one pandas frame sorted by ``sort``, with play times (int64
    nanoseconds inside Spark) as UTC timestamps again, cast in Arrow so no value passes through
    a float. For tests and small tables: a large artifact's writer streams row groups instead."""
    table = ds.dataset(str(path), format="parquet").to_table()
    for col in TIME_COLUMNS:
        if col in table.column_names and pa.types.is_integer(table.schema.field(col).type):
            i = table.column_names.index(col)
            table = table.set_column(i, col, table.column(col).cast(_UTC_NS))
    return table.to_pandas().sort_values(list(sort), ignore_index=True)
