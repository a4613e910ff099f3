"""The orchestration: artefact layouts, the report contract, determinism, gate, cold start."""

import json

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core import recommend as R
from musicrec_assets.core.artifacts import read_npz, write_json, write_npz
from musicrec_assets.core.blend import topk
from musicrec_assets.core.candidates import als_candidates
from musicrec_assets.core.protocol import stage_data
from musicrec_assets.core.rerank import booster_to_text
from musicrec_assets_tests.model_data import make_world, run_pipeline

SYSTEM_KEYS = {"precision", "recall", "map", "ndcg", "hit_rate", "coverage", "ndcg_ci95"}


@pytest.fixture(scope="module")
def world():
    return make_world(260, 180, 8, seed=5)


@pytest.fixture(scope="module")
def run(world):
    return run_pipeline(world)


def test_report_follows_the_design_contract(run, world, tmp_path):
    rep = run["report"]
    assert set(rep) == {
        "k",
        "users_evaluated",
        "systems",
        "chosen",
        "validation",
        "candidate_recall",
    }
    assert rep["k"] == 10
    test_users = stage_data(world.splits, "test").target_users
    assert rep["users_evaluated"] == len(test_users)
    assert set(rep["systems"]) == {"popularity", "als", "itemknn", "reranked"}
    for name, m in rep["systems"].items():
        assert set(m) == SYSTEM_KEYS, name
        lo, hi = m["ndcg_ci95"]
        assert lo <= m["ndcg"] <= hi
        assert 0 <= m["map"] <= 1 and 0 <= m["coverage"] <= 1
    assert rep["chosen"]["blend_alpha"] == run["choice"]["blend_alpha"]
    assert set(rep["validation"]["gate"]) == {"reranked_ndcg", "als_ndcg", "passed"}
    assert len(rep["validation"]["alpha_sweep"]) == 11
    assert set(rep["candidate_recall"]) == {"val", "test"}
    _, without_info = R.evaluate(
        world.splits,
        run["candidates"],
        run["user_profiles"],
        run["item_features"],
        run["booster"],
        run["choice"],
        k=10,
        bootstrap=50,
        seed=42,
    )
    assert without_info["candidate_recall"] == rep["candidate_recall"]
    path = write_json(rep, tmp_path / "evaluation_report.json")
    assert json.loads(path.read_text())["systems"]["als"]["ndcg"] == rep["systems"]["als"]["ndcg"]
    md = R.report_markdown(rep)
    assert all(f"| {s} |" in md for s in rep["systems"]) and "NDCG@10" in md


def test_evaluation_topk_same_users_for_every_system_and_never_seen(run, world):
    et = run["evaluation_topk"]
    assert list(et.columns) == ["user", "system", "rank", "artist", "score"]
    assert et["rank"].between(1, 10).all()
    test = stage_data(world.splits, "test")
    assert set(et["user"]) <= set(test.target_users)
    users = {s: set(g["user"]) for s, g in et.groupby("system")}
    assert users["reranked"] == users["als"] == users["popularity"] == set(test.target_users)
    merged = et.merge(test.seen, on=["user", "artist"])
    assert merged.empty  # train+val items are never recommended for test
    assert not et.duplicated(["user", "system", "artist"]).any()


def test_reranked_topk_layout(run, world):
    top = run["reranked_topk"]
    assert list(top.columns) == list(R.SERVE_COLUMNS)
    assert set(top["user"]) == set(world.splits["user"])
    assert top.groupby("user")["rank"].max().max() <= 10
    assert top["score"].between(0, 1).all()
    if run["choice"]["use_ranker"]:
        assert top["ranker_score"].notna().all()
    assert top.merge(world.splits, on=["user", "artist"]).empty


def test_models_npz_round_trip(run, tmp_path):
    path = write_npz(R.models_to_npz(run["models"]), tmp_path / "als_model.npz")
    back = R.models_from_npz(read_npz(path))
    assert list(back) == ["val", "test", "serve"]
    for stage, model in run["models"].items():
        np.testing.assert_array_equal(back[stage].item_factors, model.item_factors)
        assert list(back[stage].artists) == list(model.artists)


def test_same_seed_same_everything(run, world):
    again = run_pipeline(world)
    pd.testing.assert_frame_equal(again["candidates"], run["candidates"])
    assert booster_to_text(again["booster"]) == booster_to_text(run["booster"])
    pd.testing.assert_frame_equal(again["reranked_topk"], run["reranked_topk"])
    pd.testing.assert_frame_equal(again["evaluation_topk"], run["evaluation_topk"])
    assert again["report"] == run["report"]


def test_reranked_beats_popularity_and_the_gate_is_consistent(run):
    systems, gate = run["report"]["systems"], run["choice"]["gate"]
    assert systems["reranked"]["ndcg"] > systems["popularity"]["ndcg"]
    assert gate["passed"] == (
        run["choice"]["blend_alpha"] > 0 and gate["reranked_ndcg"] > gate["als_ndcg"]
    )


def serve(run, world, choice=None, k=5, **kw):
    return R.serve_topk(
        world.splits,
        run["models"]["serve"],
        run["user_profiles"],
        run["item_features"],
        run["booster"],
        choice or run["choice"],
        k,
        50,
        **kw,
    )


def test_failed_gate_serves_the_als_ranking(run, world):
    top, info = serve(run, world, {**run["choice"], "use_ranker": False})
    assert top["ranker_score"].isna().all()
    sd = stage_data(world.splits, "serve")
    cands = als_candidates(run["models"]["serve"], sd.seen, sd.target_users, 50)
    assert info["candidate_rows"] == len(cands) and info["users"] == len(sd.target_users)
    als = topk(
        pd.DataFrame(
            {
                "user": cands["user"].astype(str),
                "artist": cands["artist"].astype(str),
                "score": cands["als_score"].astype(float),
            }
        ),
        "score",
        5,
    )
    pd.testing.assert_frame_equal(top[["user", "rank", "artist"]], als[["user", "rank", "artist"]])


def test_serving_in_chunks_of_listeners_changes_nothing(run, world):
    assert "serve" not in set(run["candidates"]["stage"])  # serving makes its own candidates
    whole, _ = serve(run, world, k=10)
    chunked, info = serve(run, world, k=10, chunk_users=7)
    pd.testing.assert_frame_equal(chunked, whole)
    pd.testing.assert_frame_equal(whole, run["reranked_topk"])
    assert info["users"] == whole["user"].nunique()


def test_cold_start_recommends_new_artists(run):
    items = R._stage(run["item_features"], "serve")
    seeds = {"Artist 00003": 12.0, "Artist 00010": 3.0, "not an artist": 4.0}
    out = R.recommend_new_listener(
        seeds, run["models"]["serve"], run["booster"], items, run["choice"]["blend_alpha"], 8
    )
    assert list(out.columns) == ["rank", "artist", "score", "als_score", "ranker_score"]
    assert len(out) == 8 and out["rank"].tolist() == list(range(1, 9))
    assert not set(out["artist"]) & set(seeds)
    assert out.attrs["unknown_seeds"] == ["not an artist"]
    assert out["ranker_score"].notna().all()
    same = R.recommend_new_listener(
        list(seeds), run["models"]["serve"], run["booster"], items, run["choice"]["blend_alpha"], 8
    )
    assert not set(same["artist"]) & set(seeds)
    again = R.recommend_new_listener(
        seeds, run["models"]["serve"], run["booster"], items, run["choice"]["blend_alpha"], 8
    )
    pd.testing.assert_frame_equal(out, again)
    nothing = R.recommend_new_listener(["???"], run["models"]["serve"], None, items, 0.5, 3)
    assert len(nothing) == 3 and nothing["ranker_score"].isna().all()  # popularity fallback


def test_artefacts_survive_parquet_and_text_round_trips(run, world, tmp_path):
    from musicrec_assets.core.artifacts import read_parquet, write_parquet, write_text
    from musicrec_assets.core.rerank import booster_from_text

    back = {}
    for name in ("candidates", "user_profiles", "item_features", "dataset"):
        back[name] = read_parquet(write_parquet(run[name], tmp_path / f"{name}.parquet"))
    text = (write_text(booster_to_text(run["booster"]), tmp_path / "reranker.txt")).read_text()
    booster = booster_from_text(text)
    top, _ = R.serve_topk(
        world.splits,
        run["models"]["serve"],
        back["user_profiles"],
        back["item_features"],
        booster,
        run["choice"],
        10,
        50,
    )
    pd.testing.assert_frame_equal(top, run["reranked_topk"])
    frame = R._stage(back["dataset"], "val")
    assert frame["label"].sum() == R._stage(run["dataset"], "val")["label"].sum()
