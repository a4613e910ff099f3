"""The ALS fit on Spark: pyspark.ml ALS (implicit preferences) on a stage's or a validation
fold's fit rows, returned as the local engine's ``ALSModel`` so candidates, scoring, cold start
and the ``generator_models`` artifact use it unchanged.

The matrix is the one ``core.model.generators.als.train_matrix`` builds: the stage's fit rows
(``core.evaluation.protocol.FIT_SPLITS``), the k-core filter of ``[als]``, listeners and artists
coded in sorted key order after it (the local model's id maps and row order), and ``[als]``'s
weighting; Spark fits confidence 1 + α·weight with its own ``[engine.spark.als]`` values. Every
step is Spark SQL on the cluster; what reaches the driver are the factors and the per-artist
counts (arrays the model holds anyway), read back from Parquet with Arrow.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from ..core.config import ALSConfig, SparkALSConfig
from ..core.evaluation.protocol import FIT_SPLITS
from ..core.model.generators.als import ALSModel

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_LOW_BITS = (1 << 33) - 1  # monotonically_increasing_id: partition << 33 | record in partition


def fit_rows(spark: SparkSession, path: str | Path, splits: tuple[str, ...] | None = None):
    """``user, artist, plays`` rows of a Parquet table (all, or those whose ``split`` is in
    ``splits``: a stage's ``FIT_SPLITS`` of ``interaction_splits``)."""
    from pyspark.sql import functions as F

    rows = spark.read.parquet(str(path))
    if splits is not None:
        rows = rows.where(F.col("split").isin(list(splits)))
    return rows.select(
        F.col("user").cast("string"),
        F.col("artist").cast("string"),
        F.col("plays").cast("double"),
    )


def stage_fit_rows(spark: SparkSession, splits_path: str | Path, stage: str):
    """``stage``'s fit rows of the ``interaction_splits`` Parquet at ``splits_path``."""
    if stage not in FIT_SPLITS:
        raise ValueError(f"unknown stage {stage!r}; expected one of {tuple(FIT_SPLITS)}")
    return fit_rows(spark, splits_path, FIT_SPLITS[stage])


def fit_als_spark(
    spark: SparkSession,
    rows: DataFrame,
    cfg: ALSConfig,
    spark_cfg: SparkALSConfig,
    seed: int,
    scratch_dir: str | Path,
) -> ALSModel:
    """Fit ALS on ``rows`` (``user, artist, plays``: one stage's or fold's fit rows).

    ``cfg`` gives the matrix (k-core, weighting) and the scoring (cosine, popularity blend) as
    for the local fit; ``spark_cfg`` the fit itself; ``seed`` makes it repeatable. Checkpoints
    and the Parquet handed back go under ``scratch_dir`` (shared storage on a real cluster);
    the fit's folder is removed once read.
    """
    work = Path(scratch_dir) / "als" / uuid.uuid4().hex
    spark.sparkContext.setCheckpointDir(str(Path(scratch_dir) / "checkpoints"))
    try:
        rows, info = _kcore(rows, cfg.min_user_artists, cfg.min_artist_listeners)
        users = _key_codes(rows, "user", "u")
        artists = _key_codes(rows, "artist", "i")
        coded = rows.join(users, "user").join(artists, "artist").select("u", "i", "plays")
        weighted, per_artist, floored = _weights(coded, cfg)
        weighted = weighted.checkpoint()
        model = _fit(weighted, spark_cfg, seed)
        for name, frame in (
            ("users", users),
            ("artists", artists),
            ("per_artist", per_artist),
            ("user_factors", model.userFactors if model else None),
            ("item_factors", model.itemFactors if model else None),
        ):
            if frame is not None:
                frame.write.mode("overwrite").parquet(str(work / name))
        return _to_model(work, cfg, spark_cfg, info | {"weights_floored": float(floored)})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kcore(rows: DataFrame, min_user: int, min_item: int) -> tuple[DataFrame, dict[str, float]]:
    """``core...als.kcore_mask`` in Spark SQL: drop listeners / artists below their distinct
    pair counts until nothing changes (a loop over rounds, each a pair of joins)."""
    from pyspark.sql import functions as F

    rows = rows.checkpoint()
    n_in = rows.count()
    info = {
        "pairs_in": float(n_in),
        "users_in": float(rows.select("user").distinct().count()),
        "artists_in": float(rows.select("artist").distinct().count()),
        "kcore_rounds": 0.0,
    }
    n = n_in
    if min_user > 1 or min_item > 1:
        while True:
            info["kcore_rounds"] += 1
            ok_u = rows.groupBy("user").count().where(F.col("count") >= min_user)
            ok_i = rows.groupBy("artist").count().where(F.col("count") >= min_item)
            kept = (
                rows.join(ok_u.select("user"), "user", "left_semi")
                .join(ok_i.select("artist"), "artist", "left_semi")
                .checkpoint()
            )
            m = kept.count()
            rows = kept
            if m == n:
                break
            n = m
    return rows, info


def _key_codes(rows: DataFrame, col: str, code: str) -> DataFrame:
    """(key, code) with codes 0..n-1 in sorted key order, as ``core.ids.factorize_sorted`` gives
    (Spark orders strings by UTF-8 bytes, i.e. by code point). Numbered per range partition of
    the sort plus each partition's offset, so no single task sees every key."""
    from pyspark.sql import functions as F

    tagged = (
        rows.select(col)
        .distinct()
        .orderBy(col)
        .select(
            col,
            F.spark_partition_id().alias("_p"),
            F.monotonically_increasing_id().bitwiseAND(F.lit(_LOW_BITS)).alias("_r"),
        )
        .checkpoint()  # fixes the numbering: the counts and the join below see the same rows
    )
    counts = sorted((r["_p"], r["count"]) for r in tagged.groupBy("_p").count().collect())
    starts = np.r_[0, np.cumsum([c for _, c in counts])[:-1]].astype(np.int64)
    spark = rows.sparkSession
    offsets = spark.createDataFrame(
        [(int(p), int(s)) for (p, _), s in zip(counts, starts, strict=True)], "_p int, _o long"
    )
    return tagged.join(F.broadcast(offsets), "_p").select(
        col, (F.col("_o") + F.col("_r")).cast("int").alias(code)
    )


def _weights(coded: DataFrame, cfg: ALSConfig) -> tuple[DataFrame, DataFrame, int]:
    """(u, i, w) weighted as ``core...als._weight_matrix`` does, the per-artist counts the model
    keeps (i, plays, listeners, length norm), and how many BM25 weights were floored."""
    from pyspark.sql import functions as F

    per_artist = coded.groupBy("i").agg(
        F.sum("plays").alias("item_plays"), F.count("*").cast("long").alias("item_listeners")
    )
    if cfg.weighting == "none":
        return coded.select("u", "i", F.col("plays").alias("w")), _norm1(per_artist), 0
    if cfg.weighting == "log1p":
        return coded.select("u", "i", F.log1p("plays").alias("w")), _norm1(per_artist), 0
    # BM25 with artists as documents (implicit's bm25_weight on the artist × listener matrix).
    mean_len = per_artist.agg(F.mean("item_plays")).first()[0]
    n_items = per_artist.count()
    per_artist = per_artist.withColumn(
        "length_norm", (1.0 - cfg.bm25_b) + cfg.bm25_b * F.col("item_plays") / F.lit(mean_len)
    )
    per_user = coded.groupBy("u").agg(F.count("*").alias("n_u"))
    k1 = cfg.bm25_k1
    w = (
        coded.join(per_user, "u")
        .join(per_artist.select("i", "length_norm"), "i")
        .select(
            "u",
            "i",
            (
                F.col("plays")
                * (k1 + 1.0)
                / (k1 * F.col("length_norm") + F.col("plays"))
                * (F.lit(float(np.log(n_items))) - F.log1p("n_u"))
            ).alias("w"),
        )
        .checkpoint()
    )
    stats = w.agg(
        F.min(F.when(F.col("w") > 0, F.col("w"))).alias("low"),
        F.sum((F.col("w") <= 0).cast("long")).alias("floored"),
    ).first()
    floored = int(stats["floored"] or 0)
    if floored:  # as als._floor: weights <= 0 become a tenth of the smallest positive one
        floor = float(stats["low"]) * 0.1 if stats["low"] is not None else 1e-3
        w = w.withColumn("w", F.when(F.col("w") > 0, F.col("w")).otherwise(F.lit(floor)))
    return w, per_artist, floored


def _norm1(per_artist: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return per_artist.withColumn("length_norm", F.lit(1.0))


def _fit(weighted: DataFrame, cfg: SparkALSConfig, seed: int):
    """pyspark.ml ALS on (u, i, w); None when there is nothing to fit."""
    from pyspark.ml.recommendation import ALS

    if weighted.isEmpty():
        return None
    als = ALS(
        rank=cfg.rank,
        maxIter=cfg.max_iter,
        regParam=cfg.reg_param,
        alpha=cfg.alpha,
        implicitPrefs=True,
        userCol="u",
        itemCol="i",
        ratingCol="w",
        seed=seed,
        checkpointInterval=cfg.checkpoint_interval,
    )
    if cfg.blocks:
        als = als.setNumUserBlocks(cfg.blocks).setNumItemBlocks(cfg.blocks)
    return als.fit(weighted)


def _read(path: Path) -> pa.Table:
    return ds.dataset(str(path), format="parquet").to_table()


def _keys(path: Path, col: str, code: str) -> np.ndarray:
    """The id map: keys in code order (codes are 0..n-1)."""
    if not path.exists():
        return np.zeros(0, dtype=object)
    t = _read(path)
    out = np.empty(t.num_rows, dtype=object)
    out[t.column(code).to_numpy()] = t.column(col).to_numpy(zero_copy_only=False)
    return out


def _factors(path: Path, n: int, rank: int) -> np.ndarray:
    """Spark's (id, features) rows as a float32 (n × rank) array in id order; ids Spark never
    saw (none, as every coded key has a pair) stay zero."""
    out = np.zeros((n, rank), dtype=np.float32)
    if not path.exists():
        return out
    t = _read(path)
    if t.num_rows:
        flat = t.column("features").combine_chunks().flatten().to_numpy()
        out[t.column("id").to_numpy()] = flat.reshape(t.num_rows, rank)
    return out


def _to_model(
    work: Path, cfg: ALSConfig, spark_cfg: SparkALSConfig, info: dict[str, float]
) -> ALSModel:
    """The local ``ALSModel`` from the stage's Parquet: sorted id maps, factors in id order.

    ``alpha`` and ``regularization`` are the Spark fit's; fold-in (implicit's solver, a fixed λ
    and confidence α·w) therefore approximates Spark's per-row λ·n and 1 + α·w.
    """
    users = _keys(work / "users", "user", "u")
    artists = _keys(work / "artists", "artist", "i")
    n_i = len(artists)
    item_plays = np.zeros(n_i, dtype=np.float64)
    item_listeners = np.zeros(n_i, dtype=np.int64)
    norm = np.ones(n_i, dtype=np.float64)
    if (work / "per_artist").exists():
        t = _read(work / "per_artist")
        i = t.column("i").to_numpy()
        item_plays[i] = t.column("item_plays").to_numpy()
        item_listeners[i] = t.column("item_listeners").to_numpy()
        norm[i] = t.column("length_norm").to_numpy()
    info = info | {
        "pairs_fit": float(item_listeners.sum()),
        "users_fit": float(len(users)),
        "artists_fit": float(n_i),
        "users_filtered": info["users_in"] - len(users),
        "artists_filtered": info["artists_in"] - n_i,
        "iterations": float(spark_cfg.max_iter),
        "warm_started": 0.0,
    }
    return ALSModel(
        user_factors=_factors(work / "user_factors", len(users), spark_cfg.rank),
        item_factors=_factors(work / "item_factors", n_i, spark_cfg.rank),
        users=users,
        artists=artists,
        item_plays=item_plays,
        item_listeners=item_listeners,
        bm25_length_norm=norm,
        weighting=cfg.weighting,
        bm25_k1=cfg.bm25_k1,
        bm25_b=cfg.bm25_b,
        alpha=spark_cfg.alpha,
        regularization=spark_cfg.reg_param,
        cosine=cfg.cosine,
        pop_blend=float(np.clip(cfg.pop_blend, 0.0, 1.0)),
        info=info,
    )
