"""The Spark engine's listener-partitioned stages equal the local engine's on the same inputs:
candidate top-N from the same models, ``reranked_topk`` from the same models and reranker, and
the playlists from the same scores (issue 11: "equal where they must be"). The local graph of a
tiny sample is materialized once; each Spark stage runs on a ``local[2]`` session against its
artifacts with several listener partitions, and the driver's reader turns the job's Parquet
back into the local layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from musicrec_assets.core.artifacts import artifact_path, load_artifact
from musicrec_assets.core.config import SparkConfig, load_config
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.scale_out import CandidateRequest, in_process_candidates
from musicrec_assets_tests.conftest import config_variant
from musicrec_assets_tests.graph import materialize_all

pytestmark = pytest.mark.spark

TINY = {"users": 40, "artists": 90, "tracks": 500, "scrobbles": 6000, "seed": 11}


@pytest.fixture(scope="module")
def local_graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, artifact folder) of the tiny sample's graph built by the local engine."""
    from musicrec_assets.core.generations import current_dir
    from musicrec_assets.sample import generate_sample

    base = generate_sample(tmp_path_factory.mktemp("spark_serving"), **TINY)
    config = config_variant(base, base.parent / "local")
    assert materialize_all(config).success
    return config, current_dir(load_config(config).storage_dir)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    from musicrec_assets.spark import listeners
    from musicrec_assets.spark.session import spark_session

    scratch = tmp_path_factory.mktemp("spark_scratch")
    listeners.ROWS_PER_PARTITION = 500  # several listener ranges even on the tiny sample
    session = spark_session(SparkConfig(master="local[2]", scratch_dir=scratch), "musicrec-test")
    yield session
    session.stop()


def _paths(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(artifact_path(folder, name)) for name in names}


def test_candidates_equal_the_local_top_n(spark, local_graph, tmp_path):
    from musicrec_assets.spark import engine, listeners

    _, folder = local_graph
    splits = load_artifact(folder, "interaction_splits")
    models = load_artifact(folder, "generator_models")
    requests = {}
    for stage in ("val", "test"):
        sd = stage_data(splits, stage, validate=False)
        requests[stage] = CandidateRequest(models[stage], sd.seen, sd.target_users)
    extras = engine.candidate_inputs(requests, 20, tmp_path)
    out = tmp_path / "out"
    listeners.candidates(spark, extras["rows"], extras["models"], tuple(extras["names"]), 20, out)
    assert len(engine._part_files(out)) > 1  # the listeners were really split up
    got = engine.read_candidates(out, requests)
    for part, request in requests.items():
        want = in_process_candidates(request, 20)
        pd.testing.assert_frame_equal(got[part], want, check_exact=True)
        counts = {k: v for k, v in want.attrs["info"].items() if k != "seconds"}
        assert {k: got[part].attrs["info"][k] for k in counts} == counts


@pytest.mark.parametrize("use_ranker", [False, True])
def test_reranked_topk_equals_the_local_engines(spark, local_graph, tmp_path, use_ranker):
    """Both serving paths: the base generator's ranking, and the reranker's blend (forced on
    here: a tiny sample's gate never passes)."""
    from musicrec_assets.core.artifacts import write_json
    from musicrec_assets.core.model import serve
    from musicrec_assets.spark import engine, listeners

    config, folder = local_graph
    cfg = load_config(config)
    names = ("interaction_splits", "generator_models", "user_profiles", "item_features")
    paths = _paths(folder, (*names, "reranker"))
    choice = load_artifact(folder, "reranker_validation") | {"use_ranker": use_ranker}
    if use_ranker:
        choice |= {"base": "als", "blend_alpha": 0.5}
    paths["reranker_validation"] = str(write_json(choice, tmp_path / "choice.json"))
    k, n = cfg.evaluation.topk, cfg.candidates.n
    listeners.reranked_topk(spark, paths, k, n, tmp_path / "out")
    got, info = engine.read_topk(tmp_path / "out")
    args = [load_artifact(folder, name) for name in names]
    booster = load_artifact(folder, "reranker")
    want, _ = serve.reranked_topk(args[0], args[1]["serve"], *args[2:], booster, choice, k, n)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert want["ranker_score"].notna().all() == use_ranker
    assert info["users"] == want["user"].nunique()


def test_playlists_equal_the_local_asset_for_the_same_scores(spark, local_graph, tmp_path):
    from musicrec_assets.spark import engine, listeners

    config, folder = local_graph
    names = ("reranked_topk", "interaction_splits", "artist_catalog", "artist_vectors")
    paths = _paths(folder, (*names, "artist_tracks"))
    listeners.playlists(spark, paths, str(config), tmp_path / "out")
    parts = list(engine.read_playlists(tmp_path / "out"))
    assert len(parts) > 1
    got = pd.concat(parts, ignore_index=True)
    want = load_artifact(folder, "playlists")
    for frame in (got, want):
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype(str)
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=False)
