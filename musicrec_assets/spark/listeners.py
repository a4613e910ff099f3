"""Listener-partitioned stages on Spark: candidate top-N, the served top-K and the playlists.

Each stage's rows are partitioned by listener, so a partition holds whole listeners, and
``mapInArrow`` calls the core function the local engine calls on a chunk of listeners
(``in_process_candidates``, ``serve.reranked_topk``, ``playlist.iter_playlists``) on each
partition's listeners: features, blend and playlist rules are written once. Models and tables
that every partition needs are read from their files once per Python worker (``_cached``), so
they must be on storage the executors see (the storage and scratch folders; shared storage on a
real cluster, like the checkpoint folder).

Output is Parquet in listener order: partitions are listener ranges (``repartitionByRange``,
Spark's UTF-8 byte order = ``core.ids``' code-point order), so the driver streams the part
files in name order. Per-partition counts travel as JSON in an ``info`` column of rows whose
``user`` is null.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa

from ..core.artifacts import read_artifact, read_npz
from ..core.config import load_config
from ..core.model import serve
from ..core.model.generators.stages import StageModels
from ..core.model.scale_out import CandidateRequest, in_process_candidates
from ..core.playlist import PLAYLIST_COLUMNS, artist_profiles, iter_playlists

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROWS_PER_PARTITION = 250_000  # input rows per partition (whole listeners, one pandas frame)


@cache
def _cached(kind: str, path: str, name: str = "") -> Any:
    """A model or table every partition reads, loaded once per Python worker."""
    if kind == "stage_models":
        return StageModels.from_npz(read_npz(path), "")
    if kind == "booster":
        return lgb.Booster(model_str=Path(path).read_text())
    if kind == "config":
        return load_config(Path(path))
    if kind == "profiles":  # path: artist_catalog, name: artist_vectors
        catalog = read_artifact(path, "artist_catalog")
        return artist_profiles(catalog, read_artifact(name, "artist_vectors"))
    return read_artifact(path, name)


def _frame(batches: Iterator[pa.RecordBatch]) -> pd.DataFrame | None:
    """A partition's rows as one frame (None when empty)."""
    parts = list(batches)
    if not parts or not sum(b.num_rows for b in parts):
        return None
    return pa.Table.from_batches(parts).to_pandas()


def _batch(
    df: pd.DataFrame, schema: pa.Schema, info: dict[str, Any] | None = None
) -> pa.RecordBatch:
    """``df``'s columns of ``schema`` (categoricals as their values), plus one info row."""
    cols = {}
    for field in schema:
        if field.name == "info":
            continue
        values = df[field.name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(str)
        cols[field.name] = pa.array(np.asarray(values), type=field.type, from_pandas=True)
    table = pa.table(cols | {"info": pa.nulls(len(df), pa.string())}, schema=schema)
    if info is not None:
        extra = {f.name: pa.nulls(1, f.type) for f in schema if f.name != "info"}
        extra["info"] = pa.array([json.dumps(info)], pa.string())
        table = pa.concat_tables([table, pa.table(extra, schema=schema)])
    return (
        table.combine_chunks().to_batches()[0]
        if table.num_rows
        else pa.RecordBatch.from_pylist([], schema)
    )


def _partitions(rows: DataFrame, spark: SparkSession) -> int:
    return max(spark.sparkContext.defaultParallelism, -(-rows.count() // ROWS_PER_PARTITION))


def _run(
    spark: SparkSession,
    rows: DataFrame,
    keys: tuple[str, ...],
    task: Callable[[pd.DataFrame], Iterator[tuple[pd.DataFrame, dict[str, Any]]]],
    schema: pa.Schema,
    out: str | Path,
) -> None:
    """Partition ``rows`` by listener ranges, run ``task`` on each partition, write ``out``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        df = _frame(batches)
        if df is None:
            return
        for part, info in task(df):
            yield _batch(part, schema, info)

    ranged = rows.repartitionByRange(_partitions(rows, spark), *keys).sortWithinPartitions(*keys)
    ranged.mapInArrow(apply, from_arrow_schema(schema)).write.mode("overwrite").parquet(str(out))


def candidates_schema(names: tuple[str, ...]) -> pa.Schema:
    fields = [("part", pa.string()), ("user", pa.string()), ("artist", pa.string())]
    for g in names:
        fields += [(f"{g}_score", pa.float32()), (f"{g}_rank", pa.float32())]
    return pa.schema([*fields, ("info", pa.string())])


def candidates(
    spark: SparkSession,
    rows_path: str,
    models: dict[str, str],
    names: tuple[str, ...],
    n: int,
    out: str,
) -> dict[str, Any]:
    """Every part's candidates (``in_process_candidates`` on each partition's listeners).

    ``rows_path``: ``part, user, artist, plays`` — a part's fit rows, and one row with a null
    artist per listener to score; ``models``: each part's ``StageModels`` npz.
    """
    schema = candidates_schema(names)

    def task(df: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, dict[str, Any]]]:
        for part, rows in df.groupby("part", sort=True):
            target = rows["artist"].isna().to_numpy()
            request = CandidateRequest(
                _cached("stage_models", models[str(part)]),
                rows.loc[~target, ["user", "artist", "plays"]],
                rows.loc[target, "user"].to_numpy(),
            )
            cands = in_process_candidates(request, n, num_threads=1)
            info = {k: v for k, v in cands.attrs["info"].items() if k != "seconds"}
            yield cands.assign(part=str(part)), {"part": str(part), **info}

    _run(spark, spark.read.parquet(rows_path), ("part", "user"), task, schema, out)
    return {"parts": len(models)}


SERVE_SCHEMA = pa.schema(
    [
        ("user", pa.string()),
        ("rank", pa.int32()),
        ("artist", pa.string()),
        ("score", pa.float64()),
        ("als_score", pa.float64()),
        ("ranker_score", pa.float64()),
        ("info", pa.string()),
    ]
)


def reranked_topk(spark: SparkSession, paths: dict[str, str], k: int, n: int, out: str) -> dict:
    """The served top-``k``: ``serve.reranked_topk`` on each partition's listeners."""
    from pyspark.sql import functions as F

    def task(df: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, dict[str, Any]]]:
        top, info = serve.reranked_topk(
            df,
            _cached("artifact", paths["generator_models"], "generator_models")["serve"],
            _cached("artifact", paths["user_profiles"], "user_profiles"),
            _cached("artifact", paths["item_features"], "item_features"),
            _cached("booster", paths["reranker"]),
            _cached("artifact", paths["reranker_validation"], "reranker_validation"),
            k,
            n,
            num_threads=1,
        )
        yield top, {k: v for k, v in info.items() if k != "seconds"}

    rows = spark.read.parquet(paths["interaction_splits"]).select(
        F.col("user").cast("string"),
        F.col("artist").cast("string"),
        "plays",
        F.col("split").cast("string"),
    )
    _run(spark, rows, ("user",), task, SERVE_SCHEMA, out)
    return {}


_TEXT = ("user", "context", "track_id", "track_name", "artist", "reason")
PLAYLIST_SCHEMA = pa.schema(
    [
        (c, pa.string() if c in _TEXT else pa.int64() if c == "rank" else pa.float64())
        for c in ("user", "context", *PLAYLIST_COLUMNS)
    ]
    + [("info", pa.string())]
)


def playlists(spark: SparkSession, paths: dict[str, str], config: str, out: str) -> dict:
    """Every listener's playlists: ``playlist.iter_playlists`` on each partition's listeners
    (recommendations tagged ``rec``, the listener's history ``history``)."""
    from pyspark.sql import functions as F

    def task(df: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, dict[str, Any]]]:
        cfg = _cached("config", config)
        recs = df.loc[df["table"] == "rec", ["user", "artist", "score"]]
        history = df.loc[df["table"] == "history", ["user", "artist", "plays"]]
        profiles = _cached("profiles", paths["artist_catalog"], paths["artist_vectors"])
        tracks = _cached("artifact", paths["artist_tracks"], "artist_tracks")
        for part in iter_playlists(recs, history, profiles, tracks, cfg.playlist, workers=1):
            yield part, None

    recs = spark.read.parquet(paths["reranked_topk"]).select(
        F.lit("rec").alias("table"),
        F.col("user").cast("string"),
        F.col("artist").cast("string"),
        F.col("score").cast("double"),
        F.lit(None).cast("double").alias("plays"),
    )
    history = spark.read.parquet(paths["interaction_splits"]).select(
        F.lit("history").alias("table"),
        F.col("user").cast("string"),
        F.col("artist").cast("string"),
        F.lit(None).cast("double").alias("score"),
        F.col("plays").cast("double"),
    )
    _run(spark, recs.unionByName(history), ("user",), task, PLAYLIST_SCHEMA, out)
    return {}
