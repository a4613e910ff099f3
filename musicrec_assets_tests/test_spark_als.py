"""The Spark engine's ALS fit returns the local engine's ``ALSModel``: the same id maps and array
layout, and on the test split a held-out NDCG@10 (candidates from the one scoring function the
local engine uses) inside the bootstrap interval of the local implicit fit's. The algorithms
differ (Spark scales λ by each row's count), so the check is "close", not "equal" (issue 11).
Runs a ``local[2]`` session (about 10 s to start, a few seconds per fit)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from musicrec_assets.core.config import ALSConfig, SparkALSConfig
from musicrec_assets.core.evaluation.metrics import bootstrap_ci
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.generators.als import ALSModel, fit_als
from musicrec_assets_tests.spark_support import SEED, fit_spark, heldout_ndcg

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("stage", ["val", "test", "serve"])
def test_spark_model_has_the_local_id_maps_and_layout(spark, spark_world, stage):
    root, splits = spark_world
    cfg = ALSConfig(min_user_artists=3, min_artist_listeners=3)  # the k-core drops some keys
    local = fit_als(stage_data(splits, stage).fit, cfg, SEED)
    model, _ = fit_spark(spark, root, stage, cfg)
    np.testing.assert_array_equal(model.users, local.users)
    np.testing.assert_array_equal(model.artists, local.artists)
    assert model.user_factors.shape == (len(local.users), SparkALSConfig().rank)
    assert model.item_factors.shape == (len(local.artists), SparkALSConfig().rank)
    assert model.user_factors.dtype == np.float32 and model.item_factors.dtype == np.float32
    np.testing.assert_allclose(model.item_plays, local.item_plays)
    np.testing.assert_array_equal(model.item_listeners, local.item_listeners)
    assert local.info["users_filtered"] + local.info["artists_filtered"] > 0
    for key in ("pairs_in", "pairs_fit", "users_filtered", "artists_filtered", "kcore_rounds"):
        assert model.info[key] == local.info[key], key
    assert ALSModel.from_npz(model.to_npz()).users.tolist() == model.users.tolist()


def test_bm25_weights_and_norms_match_the_local_fit(spark, spark_world):
    root, splits = spark_world
    cfg = ALSConfig(weighting="bm25", bm25_k1=1.2, bm25_b=0.75)
    local = fit_als(stage_data(splits, "val").fit, cfg, SEED)
    model, _ = fit_spark(spark, root, "val", cfg)
    np.testing.assert_allclose(model.bm25_length_norm, local.bm25_length_norm, rtol=1e-9)
    assert model.info["weights_floored"] == local.info["weights_floored"]


def test_same_seed_same_factors(spark, spark_world):
    root, _ = spark_world
    a, _ = fit_spark(spark, root, "val", ALSConfig())
    b, _ = fit_spark(spark, root, "val", ALSConfig())
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)


def test_test_ndcg_is_not_below_the_local_models_interval(spark, spark_world, record_property):
    """One-sided: with ``[engine.spark.als]``'s defaults (chosen on HetRec 2011 dev validation
    by benchmarks/tune_spark_als.py, not on this world) Spark scores above the untuned local
    fit's interval here (0.43 vs 0.30 [0.27, 0.33]; 0.37 with the earlier defaults), as issue 11
    measured on Last.fm-2K, so "close" is "not worse than the local interval"."""
    root, splits = spark_world
    cfg = ALSConfig()
    start = time.perf_counter()
    local = fit_als(stage_data(splits, "test").fit, cfg, SEED)
    local_s = time.perf_counter() - start
    model, spark_s = fit_spark(spark, root, "test", cfg)
    local_ndcg, spark_ndcg = heldout_ndcg(local, splits), heldout_ndcg(model, splits)
    lo, hi = bootstrap_ci(local_ndcg, 1000, SEED)
    record_property("fit_seconds", {"local": round(local_s, 2), "spark": round(spark_s, 2)})
    record_property("ndcg", {"local": local_ndcg.mean(), "spark": spark_ndcg.mean()})
    assert spark_ndcg.mean() >= lo, (spark_ndcg.mean(), (lo, hi))
