"""The ALS stage on a Spark standalone cluster: a master and two one-core workers on 127.0.0.1
(free ports), started and stopped by the test. Moving to a cluster is a change of ``master``
only, so the job must run on both workers' executors and give the ``local[2]`` session's model
(issue 11). Two sessions, three daemons and two executors on 2 cores: 2½ to 4 minutes measured
on a machine shared with other Spark jobs."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import TYPE_CHECKING

import numpy as np
import pytest

from musicrec_assets.core.config import ALSConfig, SparkConfig
from musicrec_assets_tests.spark_cluster import WORKERS, free_ports, standalone_cluster
from musicrec_assets_tests.spark_support import fit_spark, heldout_ndcg, open_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark

STAGE = "test"
EXECUTOR_TIMEOUT_S = 60.0


def _executors(spark: SparkSession) -> list[dict]:
    """The application's live executors (not the driver), from the driver's REST API."""
    sc = spark.sparkContext
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/executors"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return [e for e in json.load(resp) if e["id"] != "driver"]


def _wait_for_executors(spark: SparkSession) -> None:
    """Wait until one executor per worker has registered, so the fit's tasks can use both."""
    deadline = time.monotonic() + EXECUTOR_TIMEOUT_S
    while len(_executors(spark)) < WORKERS:
        if time.monotonic() > deadline:
            pytest.fail(f"{WORKERS} executors did not register in {EXECUTOR_TIMEOUT_S:.0f} s")
        time.sleep(0.5)


def test_als_stage_on_a_standalone_cluster_equals_the_local_session(spark_world, tmp_path):
    root, splits = spark_world
    cfg = ALSConfig(min_user_artists=3, min_artist_listeners=3)  # the k-core drops some keys
    with open_session(SparkConfig(master="local[2]", scratch_dir=tmp_path / "local")) as spark:
        local, _ = fit_spark(spark, root, STAGE, cfg)
    with standalone_cluster(tmp_path / "cluster") as cluster:
        on_cluster = SparkConfig(
            master=cluster.url,
            conf={"spark.ui.port": str(free_ports(1)[0])},  # the executors check reads it
            executor_memory="512m",
            scratch_dir=tmp_path / "scratch",
        )
        with open_session(on_cluster) as spark:
            _wait_for_executors(spark)
            model, _ = fit_spark(spark, root, STAGE, cfg)
            executors = _executors(spark)
            app_id = spark.sparkContext.applicationId
            master = cluster.state()
        daemons = cluster.daemons()
    assert len(daemons) >= 1 + WORKERS
    assert not [p.pid for p in daemons if p.is_running()], "daemons left running"

    # the fit ran on the cluster: the master lists the application, each worker gave it its
    # core, and each of the two executors ran some of the fit's tasks
    assert [app["id"] for app in master["activeapps"]] == [app_id]
    assert [w["coresused"] for w in master["workers"]] == [1] * WORKERS
    assert len({e["hostPort"] for e in executors}) == WORKERS
    assert all(e["totalTasks"] > 0 for e in executors), [e["totalTasks"] for e in executors]

    # and gave the local session's model: same keys, layout, counts and factors (same seed)
    np.testing.assert_array_equal(model.users, local.users)
    np.testing.assert_array_equal(model.artists, local.artists)
    assert model.user_factors.shape == local.user_factors.shape
    assert model.item_factors.shape == local.item_factors.shape
    np.testing.assert_array_equal(model.item_plays, local.item_plays)
    np.testing.assert_array_equal(model.item_listeners, local.item_listeners)
    assert model.info == local.info
    np.testing.assert_array_equal(model.user_factors, local.user_factors)
    np.testing.assert_array_equal(model.item_factors, local.item_factors)
    np.testing.assert_array_equal(heldout_ndcg(model, splits), heldout_ndcg(local, splits))
