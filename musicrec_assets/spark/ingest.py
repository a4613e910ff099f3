"""The ingest stages on Spark: listens → ``user_artist_plays`` and the per-listener split
(``interaction_splits``), by the same rules as ``core.catalog.build_user_artist_plays`` and
``core.splits.split_interactions``.

Data crosses as Parquet folders (one part file per task). Play times stay int64 nanoseconds
since the epoch (UTC) inside Spark (see ``session``); ``io.read_frame`` turns them back into
pandas' UTC timestamps. Keys stay strings here: Spark sorts strings by their UTF-8 bytes, which
is the code-point order ``core.ids`` sorts by, so (user, artist) order is the same in both engines.

What is Spark and what is core: the aggregation, the joins and each listener's order are Spark
SQL; the share rule (how many of a listener's artists go to test and validation) is
``core.splits.split_codes`` itself, run inside ``mapInArrow``, and the random method's keys are
``core.splits.shuffle_keys`` — one global permutation of the rows in (user, artist) order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.schema import SPLITS
from ..core.splits import check_shares, shuffle_keys, split_codes

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PLAYS_COLUMNS = ("user", "artist", "plays", "first_played", "last_played", "spotify_id")


def user_artist_plays(
    spark: SparkSession, listens_path: str | Path, catalog_path: str | Path, out_path: str | Path
) -> dict[str, int]:
    """Write listener × artist plays (``core.catalog.build_user_artist_plays``'s rows) to the
    Parquet folder ``out_path``, sorted by (user, artist); return rows in / out and the listens
    dropped for want of a catalogue entry.

    Spellings that resolve to one artist key are summed once each (the catalogue has one row per
    source name, so the join never multiplies plays); a pair has the key's Spotify id when any
    of its listens came through a matched spelling.
    """
    from pyspark.sql import functions as F

    listens = spark.read.parquet(str(listens_path)).select(
        "user", "artist_name", "plays", "played_at"
    )
    catalog = spark.read.parquet(str(catalog_path)).select("artist_name", "artist", "spotify_id")
    # One Spotify id per artist key (checked by artist_catalog_valid): the id of any spelling.
    key_ids = (
        catalog.where(F.col("spotify_id").isNotNull())
        .groupBy("artist")
        .agg(F.min("spotify_id").alias("key_id"))
    )
    known = listens.join(catalog, "artist_name", "inner")
    pairs = known.groupBy("user", "artist").agg(
        F.sum("plays").cast("long").alias("plays"),
        F.min("played_at").alias("first_played"),
        F.max("played_at").alias("last_played"),
        F.max(F.col("spotify_id").isNotNull().cast("int")).alias("with_id"),
    )
    plays = (
        pairs.join(key_ids, "artist", "left")
        .select(
            "user",
            "artist",
            "plays",
            "first_played",
            "last_played",
            F.when(F.col("with_id") == 1, F.col("key_id")).alias("spotify_id"),
        )
        .withColumn("has_spotify", F.col("spotify_id").isNotNull())
        .orderBy("user", "artist")
    )
    plays.write.mode("overwrite").parquet(str(out_path))
    rows_in = listens.count()
    rows_out = spark.read.parquet(str(out_path)).count()
    missing = listens.join(catalog, "artist_name", "left_anti").count()
    return {"rows_in": rows_in, "rows_out": rows_out, "listens_without_catalogue_entry": missing}


def choose_split_method(plays: DataFrame, method: str) -> str:
    """``core.splits.choose_split_method`` on a Spark table: ``auto`` is temporal when every
    pair has a first-play time (and there are pairs), random otherwise."""
    from pyspark.sql import functions as F

    if method != "auto":
        return method
    row = plays.agg(F.count("*").alias("n"), F.count("first_played").alias("timed")).first()
    return "temporal" if row["n"] and row["n"] == row["timed"] else "random"


def _row_numbers(spark: SparkSession, plays: DataFrame) -> DataFrame:
    """``plays`` with ``row``: its 0-based position in (user, artist) order, the order of the
    plays table the local engine numbers (``user_artist_plays`` is stored sorted so). Built from
    per-listener offsets, so only the listener counts pass through one partition."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    sizes = plays.groupBy("user").agg(F.count("*").alias("n_user"))
    offsets = sizes.select(
        "user",
        (F.sum("n_user").over(Window.orderBy("user")) - F.col("n_user")).alias("offset"),
    )
    within = F.row_number().over(Window.partitionBy("user").orderBy("artist")) - 1
    return plays.join(offsets, "user").withColumn("row", F.col("offset") + within).drop("offset")


def _shuffle_table(spark: SparkSession, n_rows: int, seed: int, scratch: Path) -> DataFrame:
    """``core.splits.shuffle_keys`` as a (row, key) table, through a Parquet file in scratch.

    The permutation is global (the local engine's seed semantics), so it is drawn on the driver:
    8 bytes per pair of driver memory and Parquet, which bounds this method (not the temporal
    one) at roughly a few hundred million pairs."""
    keys = shuffle_keys(n_rows, seed)
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / f"shuffle_keys_{seed}_{n_rows}.parquet"
    table = pa.table({"row": np.arange(n_rows, dtype=np.int64), "key": keys.astype(np.int64)})
    pq.write_table(table, path)
    return spark.read.parquet(str(path))


def interaction_splits(
    spark: SparkSession,
    plays_path: str | Path,
    out_path: str | Path,
    *,
    method: str = "auto",
    val: float = 0.1,
    test: float = 0.2,
    min_artists: int = 5,
    seed: int = 42,
    scratch_dir: str | Path,
) -> str:
    """Write every (listener, artist) of ``plays_path`` with its ``split`` (train / val / test)
    to the Parquet folder ``out_path``, sorted by (user, artist); return the method used.

    The same rows land in the same split as ``core.splits.split_interactions``: temporal orders
    a listener's artists by first play, then artist; random by ``shuffle_keys`` of the row's
    position in (user, artist) order; ``split_codes`` then assigns the last shares."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    check_shares(val, test)
    plays = spark.read.parquet(str(plays_path))
    method = choose_split_method(plays, method)
    if method == "temporal":
        if plays.where(F.col("first_played").isNull()).limit(1).count():
            raise ValueError("temporal split needs first_played for every listener-artist pair")
        order = [F.col("first_played"), F.col("artist")]
        ranked = plays
    else:
        numbered = _row_numbers(spark, plays)
        n_rows = plays.count()
        keys = _shuffle_table(spark, n_rows, seed, Path(scratch_dir))
        ranked = numbered.join(keys, "row").drop("row")
        order = [F.col("key")]
    by_user = Window.partitionBy("user")
    positioned = (
        ranked.withColumn("n_artists", F.count("*").over(by_user))
        .withColumn(
            "pos_from_end",
            F.col("n_artists") - F.row_number().over(by_user.orderBy(*order)),
        )
        .select(*plays.columns, "n_artists", "pos_from_end")
    )
    names = pa.array(list(SPLITS), type=pa.string())

    def assign(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            codes = split_codes(
                batch.column("n_artists").to_numpy(),
                batch.column("pos_from_end").to_numpy(),
                val=val,
                test=test,
                min_artists=min_artists,
            )
            kept = batch.drop_columns(["n_artists", "pos_from_end"])
            yield kept.append_column("split", names.take(pa.array(codes)))

    schema = positioned.drop("n_artists", "pos_from_end").schema.add("split", "string", False)
    first = ["user", "artist", "plays", "split", "first_played", "last_played"]
    rest = [c for c in plays.columns if c not in first]
    out = positioned.mapInArrow(assign, schema).select(*first, *rest).orderBy("user", "artist")
    out.write.mode("overwrite").parquet(str(out_path))
    return method
