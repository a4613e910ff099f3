"""Rerank features carry real signal; training is held-out, deterministic, text-saved."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.config import ALSConfig, EASEConfig, RerankerConfig
from musicrec_assets.core.evaluation.protocol import split_listeners, stage_data
from musicrec_assets.core.model.features import Z_COLUMNS, item_features, user_profiles
from musicrec_assets.core.model.generators.stages import fit_stage
from musicrec_assets.core.model.rerank_dataset import (
    CONTENT_FEATURES,
    GAP_AT,
    feature_names,
    rerank_frame,
)
from musicrec_assets.core.model.reranker import (
    RankData,
    booster_from_text,
    booster_to_text,
    fit_booster,
    out_of_fold,
    predict,
)
from musicrec_assets.core.model.topn import collect_candidates, iter_candidates
from musicrec_assets_tests.model_data import make_world

RCFG = RerankerConfig(n_estimators=30, min_child_samples=5, early_stopping_rounds=10)
GENERATORS = ("als", "ease", "popularity")


@pytest.fixture(scope="module")
def parts():
    world = make_world(220, 160, 6, seed=11, unmatched_share=0.15)
    sd = stage_data(world.splits, "val")
    settings = {
        "als": ALSConfig(factors=8, iterations=6),
        "ease": EASEConfig(regularization=50.0),
        "popularity": None,
    }
    models = fit_stage(sd.fit, settings, 1)
    cand = collect_candidates(iter_candidates(models, sd.seen, sd.target_users, 40))
    items = item_features(sd.fit, world.artist_vectors, world.artist_catalog)
    profiles = user_profiles(sd.fit, items)
    frame = rerank_frame(cand, profiles, items, GENERATORS, sd.labels, chunk_rows=1000)
    return {"sd": sd, "cand": cand, "items": items, "profiles": profiles, "frame": frame}


def test_every_feature_varies(parts):
    frame = parts["frame"]
    features = feature_names(GENERATORS)
    assert list(frame.columns) == ["user", "artist", "label", *features]
    assert set(CONTENT_FEATURES) < set(features)
    for f in features:
        values = frame[f].to_numpy(dtype=float)
        assert np.isfinite(values).any(), f
        assert np.nanstd(values) > 0, f"{f} is constant"
    # and the content features vary within a listener's list, not only across listeners
    per_user = frame.groupby("user", observed=True)[["cos_profile", "genre_overlap", "tempo_diff"]]
    assert (per_user.std() > 0).all().all()


def test_labels_mark_validation_pairs(parts):
    frame, labels = parts["frame"], parts["sd"].labels
    merged = frame.astype({"user": str, "artist": str}).merge(
        labels.assign(hit=1), on=["user", "artist"], how="left"
    )
    np.testing.assert_array_equal(frame["label"].to_numpy(), merged["hit"].fillna(0).to_numpy())
    assert frame["label"].sum() > 0


def test_missing_content_is_nan_not_zero(parts):
    frame, items = parts["frame"], parts["items"]
    no_spotify = set(items.loc[~items["has_spotify"], "artist"])
    rows = frame[frame["artist"].astype(str).isin(no_spotify)]
    assert len(rows) and rows["cos_profile"].isna().all() and rows["tempo_diff"].isna().all()
    assert (rows["has_spotify"] == 0).all()
    assert rows["log_item_pop_users"].notna().all()


def test_profile_distances_by_hand(parts):
    frame, items, profiles = parts["frame"], parts["items"], parts["profiles"]
    row = frame[frame["cos_profile"].notna()].iloc[3]
    u = profiles.set_index("user").loc[str(row["user"]), list(Z_COLUMNS)].to_numpy(float)
    v = items.set_index("artist").loc[str(row["artist"]), list(Z_COLUMNS)].to_numpy(float)
    assert row["cos_profile"] == pytest.approx(
        u @ v / np.linalg.norm(u) / np.linalg.norm(v), rel=1e-4
    )
    assert row["l2_profile"] == pytest.approx(np.linalg.norm(u - v), rel=1e-4)
    assert row["absdiff_profile"] == pytest.approx(np.abs(u - v).mean(), rel=1e-4)


@pytest.mark.parametrize("g", GENERATORS)
def test_relative_scores_by_hand(parts, g):
    """z-score within the listener's candidates, gap to their 10th best, ratio to their best,
    log-rank, and how many generators proposed the artist, recomputed with plain pandas."""
    frame = parts["frame"]
    for user in frame["user"].astype(str).unique()[:5]:
        mine = frame[frame["user"].astype(str) == user]
        s = mine[f"{g}_score"].to_numpy(dtype=np.float64)
        known = np.isfinite(s)
        z = (s - s[known].mean()) / s[known].std()
        np.testing.assert_allclose(mine[f"{g}_z"], z, rtol=1e-4, atol=1e-5)
        tenth = np.sort(s[known])[::-1][min(GAP_AT, known.sum()) - 1]
        np.testing.assert_allclose(mine[f"{g}_gap10"], s - tenth, rtol=1e-4, atol=1e-5)
        best = s[known].max()
        expect = s / best if best > 0 else np.full(len(s), np.nan)
        np.testing.assert_allclose(mine[f"{g}_ratio"], expect, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(mine[f"{g}_log_rank"], np.log(mine[f"{g}_rank"]), rtol=1e-5)
        proposed = sum(mine[f"{h}_rank"].notna() for h in GENERATORS)
        np.testing.assert_array_equal(mine["n_generators"], proposed)


def test_split_listeners_is_seeded_and_disjoint():
    users = [f"u{i}" for i in range(40)]
    fit, held = split_listeners(users, 0.25, 3)
    assert len(held) == 10 and not set(fit) & set(held) and len(fit) + len(held) == 40
    again = split_listeners(list(reversed(users)), 0.25, 3)
    assert list(again[1]) == list(held)


def _data(frame):
    return RankData(frame, feature_names(GENERATORS), {"num_threads": 2, "verbose": -1})


@pytest.mark.parametrize("objective", ["binary", "lambdarank"])
def test_fit_booster_is_deterministic_and_saved_as_text(parts, objective):
    frame = parts["frame"]
    data = _data(frame)
    every = np.ones(len(data.sizes), dtype=bool)
    a, info = fit_booster(data, every, RCFG, objective, seed=5)
    shuffled = _data(frame.sample(frac=1.0, random_state=1))
    b, _ = fit_booster(shuffled, every, RCFG, objective, seed=5)
    assert booster_to_text(a) == booster_to_text(b)
    assert 1 <= info["best_iteration"] <= RCFG.n_estimators
    assert a.current_iteration() == info["best_iteration"]
    assert info["valid_queries"] > 0 and info["train_queries"] > info["valid_queries"]
    positives = frame.groupby("user", observed=True)["label"].sum()
    assert info["dropped_no_positive"] == int((positives == 0).sum())
    loaded = booster_from_text(booster_to_text(a))
    np.testing.assert_allclose(predict(loaded, frame), predict(a, frame))
    fixed, info = fit_booster(data, every, RCFG, objective, seed=5, rounds=7)
    assert fixed.current_iteration() == 7 and info["valid_queries"] == 0


def test_out_of_fold_scores_never_come_from_a_model_that_saw_the_listener(parts):
    frame = parts["frame"]
    data = _data(frame)
    cfg = RerankerConfig(n_estimators=20, min_child_samples=5, crossfit=3)
    scores, infos = out_of_fold(data, cfg, "binary", seed=3)
    assert np.isfinite(scores).all() and len(infos) == 3
    # every listener is scored by the model of its own group, trained without that group
    for info in infos:
        assert info["train_queries"] + info["valid_queries"] < len(data.sizes)
    again, _ = out_of_fold(_data(frame.sample(frac=1.0, random_state=2)), cfg, "binary", 3)
    order = frame.sample(frac=1.0, random_state=2).index
    np.testing.assert_allclose(again, scores[order])


def test_reranker_learns_from_content(parts):
    """On listeners it never saw, the ranker orders candidates better than ALS alone."""
    frame = parts["frame"]
    fit, held = split_listeners(frame["user"].astype(str).unique(), 0.3, 5)
    train = frame[frame["user"].astype(str).isin(fit)]
    data = _data(train)
    booster, _ = fit_booster(data, np.ones(len(data.sizes), dtype=bool), RCFG, "lambdarank", 5)
    test = frame[frame["user"].astype(str).isin(held)].copy()
    test["ranker"] = predict(booster, test)

    def mean_rank_of_positives(col):
        r = test.groupby("user", observed=True)[col].rank(ascending=False)
        return float(r[test["label"] == 1].mean())

    test["als"] = test["als_score"]
    assert mean_rank_of_positives("ranker") < mean_rank_of_positives("als")
    gain = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    assert gain["genre_overlap"] + gain["tempo_diff"] > 0


def test_empty_candidates_give_an_empty_frame(parts):
    empty = parts["cand"].iloc[:0]
    out = rerank_frame(empty, parts["profiles"], parts["items"], GENERATORS)
    assert len(out) == 0 and list(out.columns) == ["user", "artist", *feature_names(GENERATORS)]
    assert isinstance(out, pd.DataFrame)
