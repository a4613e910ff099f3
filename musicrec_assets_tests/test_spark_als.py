"""The Spark engine's ALS fit returns the local engine's ``ALSModel``: the same id maps and array
layout, and on the test split a held-out NDCG@10 (candidates from the one scoring function the
local engine uses) inside the bootstrap interval of the local implicit fit's. The algorithms
differ (Spark scales λ by each row's count), so the check is "close", not "equal" (issue 11).
Runs a ``local[2]`` session (about 10 s to start, a few seconds per fit)."""

from __future__ import annotations

import importlib.util
import shutil
import time

import numpy as np
import pytest

from musicrec_assets.core.artifacts import write_parquet
from musicrec_assets.core.config import ALSConfig, SparkALSConfig, SparkConfig
from musicrec_assets.core.evaluation.metrics import bootstrap_ci, evaluate_topk
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.candidates import generator_topk
from musicrec_assets.core.model.generators.als import ALSModel, fit_als
from musicrec_assets.core.model.generators.stages import StageModels
from musicrec_assets.core.model.topn import collect_candidates, iter_candidates
from musicrec_assets_tests.model_data import make_world

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None,
        reason="pyspark is not installed (uv sync --extra spark)",
    ),
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java on PATH (Spark needs 17)"),
]

SEED = 42
K = 10


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    from musicrec_assets.spark.session import spark_session

    scratch = tmp_path_factory.mktemp("spark_scratch")
    session = spark_session(SparkConfig(master="local[2]", scratch_dir=scratch), "musicrec-test")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A synthetic world's splits, also as the Parquet file the Spark fit reads."""
    root = tmp_path_factory.mktemp("spark_als")
    w = make_world(300, 250, 8, seed=5)
    write_parquet(w.splits, root / "interaction_splits.parquet")
    return root, w.splits


def _fit_spark(spark, root, stage: str, cfg: ALSConfig) -> tuple[ALSModel, float]:
    from musicrec_assets.spark.als import fit_als_spark, stage_fit_rows

    start = time.perf_counter()
    model = fit_als_spark(
        spark,
        stage_fit_rows(spark, root / "interaction_splits.parquet", stage),
        cfg,
        SparkALSConfig(),
        SEED,
        root / "scratch",
    )
    return model, time.perf_counter() - start


def _ndcg(model: ALSModel, splits) -> np.ndarray:
    """Per-listener NDCG@K on the test split, from ALS's own top-K of the candidate table."""
    test = stage_data(splits, "test", with_labels=True)
    models = StageModels({"als": model})
    cands = collect_candidates(iter_candidates(models, test.seen, test.target_users, K))
    top = generator_topk(cands, "als", K)
    out = evaluate_topk(top, test.labels, K, len(model.artists), users=test.target_users)
    return out["per_user"]["ndcg"]


@pytest.mark.parametrize("stage", ["val", "test", "serve"])
def test_spark_model_has_the_local_id_maps_and_layout(spark, world, stage):
    root, splits = world
    cfg = ALSConfig(min_user_artists=3, min_artist_listeners=3)  # the k-core drops some keys
    local = fit_als(stage_data(splits, stage).fit, cfg, SEED)
    model, _ = _fit_spark(spark, root, stage, cfg)
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


def test_bm25_weights_and_norms_match_the_local_fit(spark, world):
    root, splits = world
    cfg = ALSConfig(weighting="bm25", bm25_k1=1.2, bm25_b=0.75)
    local = fit_als(stage_data(splits, "val").fit, cfg, SEED)
    model, _ = _fit_spark(spark, root, "val", cfg)
    np.testing.assert_allclose(model.bm25_length_norm, local.bm25_length_norm, rtol=1e-9)
    assert model.info["weights_floored"] == local.info["weights_floored"]


def test_same_seed_same_factors(spark, world):
    root, _ = world
    a, _ = _fit_spark(spark, root, "val", ALSConfig())
    b, _ = _fit_spark(spark, root, "val", ALSConfig())
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)


def test_test_ndcg_is_not_below_the_local_models_interval(spark, world, record_property):
    """One-sided: with ``[engine.spark.als]``'s defaults (chosen on HetRec 2011 dev validation
    by benchmarks/tune_spark_als.py, not on this world) Spark scores above the untuned local
    fit's interval here (0.43 vs 0.30 [0.27, 0.33]; 0.37 with the earlier defaults), as issue 11
    measured on Last.fm-2K, so "close" is "not worse than the local interval"."""
    root, splits = world
    cfg = ALSConfig()
    start = time.perf_counter()
    local = fit_als(stage_data(splits, "test").fit, cfg, SEED)
    local_s = time.perf_counter() - start
    model, spark_s = _fit_spark(spark, root, "test", cfg)
    local_ndcg, spark_ndcg = _ndcg(local, splits), _ndcg(model, splits)
    lo, hi = bootstrap_ci(local_ndcg, 1000, SEED)
    record_property("fit_seconds", {"local": round(local_s, 2), "spark": round(spark_s, 2)})
    record_property("ndcg", {"local": local_ndcg.mean(), "spark": spark_ndcg.mean()})
    assert spark_ndcg.mean() >= lo, (spark_ndcg.mean(), (lo, hi))
