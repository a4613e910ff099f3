"""Reading a Spark stage's Parquet folder back as the pandas table the local engine returns,
dtypes and categorical dictionaries included, so its artifact is the local engine's byte for byte."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from ..core.ids import factorize_sorted
from ..core.schema import SPLITS

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


def _coded(values: pd.Series, categories: Sequence[str] | pd.Index) -> pd.Categorical:
    """``values`` as a categorical over exactly ``categories`` (in that order and of that dtype:
    pandas 3 reads a stored dictionary as ``str``, a built one is ``object``); null stays null."""
    index = categories if isinstance(categories, pd.Index) else pd.Index(categories, dtype=object)
    codes = index.get_indexer(values.to_numpy(dtype=object))
    return pd.Categorical.from_codes(codes, categories=index)


def plays_frame(path: str | Path, catalog: pd.DataFrame) -> pd.DataFrame:
    """A Spark ``user_artist_plays`` folder as the local engine's frame, dtype for dtype, so the
    artifact layer writes the same bytes: ``user`` / ``artist`` categoricals with sorted
    categories (every catalogue key, as ``core.catalog.build_user_artist_plays``), ``spotify_id``
    with the catalogue's ids in their first-seen order (its ``pd.factorize``)."""
    df = read_frame(path)
    _, users = factorize_sorted(df["user"])
    _, artists = factorize_sorted(catalog["artist"])
    _, id_values = pd.factorize(catalog["spotify_id"])
    out = pd.DataFrame(
        {
            "user": _coded(df["user"], pd.Index(users, dtype=object)),
            "artist": _coded(df["artist"], pd.Index(artists, dtype=object)),
            "plays": df["plays"].to_numpy(np.int64),
            "first_played": df["first_played"].array,
            "last_played": df["last_played"].array,
            "spotify_id": _coded(df["spotify_id"], pd.Index(id_values, dtype=object)),
        }
    )
    out["has_spotify"] = out["spotify_id"].notna()
    return out


def splits_frame(path: str | Path, plays: pd.DataFrame) -> pd.DataFrame:
    """A Spark ``interaction_splits`` folder as ``core.splits.split_interactions`` returns it
    for ``plays`` (the stage's input as the asset reads it): ``user`` / ``artist`` over the
    sorted keys present, ``split`` over ``SPLITS``, the other text columns over the input's
    categories (sorted ones when the input's column is plain text)."""
    df = read_frame(path)
    _, users = factorize_sorted(df["user"])
    _, artists = factorize_sorted(df["artist"])
    out = df.copy()
    out["user"] = _coded(df["user"], pd.Index(users, dtype=object))
    out["artist"] = _coded(df["artist"], pd.Index(artists, dtype=object))
    out["split"] = pd.Categorical(df["split"], categories=list(SPLITS))
    out["plays"] = df["plays"].to_numpy(np.int64)
    first = ["user", "artist", "plays", "split", "first_played", "last_played"]
    rest = [c for c in plays.columns if c not in first]
    for col in rest:
        source = plays[col]
        if isinstance(source.dtype, pd.CategoricalDtype):
            out[col] = _coded(df[col], source.cat.categories)
        elif pd.api.types.is_string_dtype(source) or source.dtype == object:
            out[col] = df[col].astype(object).astype("category")
    return out[first + rest]
