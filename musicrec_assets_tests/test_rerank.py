"""Rerank features carry real signal; LambdaRank training is held-out, deterministic, text-saved."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.als import fit_als
from musicrec_assets.core.candidates import als_candidates
from musicrec_assets.core.config import ALSConfig, RerankerConfig
from musicrec_assets.core.features import Z_COLUMNS, item_features, user_profiles
from musicrec_assets.core.protocol import stage_data
from musicrec_assets.core.rerank import (
    FEATURES,
    booster_from_text,
    booster_to_text,
    predict,
    rerank_frame,
    split_listeners,
    train_ranker,
)
from musicrec_assets_tests.model_data import make_world

RCFG = RerankerConfig(n_estimators=30, min_child_samples=5, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def parts():
    world = make_world(220, 160, 6, seed=11, unmatched_share=0.15)
    sd = stage_data(world.splits, "val")
    model = fit_als(sd.fit, ALSConfig(factors=8, iterations=6), 1)
    cand = als_candidates(model, sd.seen, sd.target_users, 40)
    items = item_features(sd.fit, world.artist_vectors, world.artist_catalog)
    profiles = user_profiles(sd.fit, items)
    frame = rerank_frame(cand, profiles, items, sd.labels, chunk_rows=1000)
    return {"sd": sd, "cand": cand, "items": items, "profiles": profiles, "frame": frame}


def test_every_feature_varies(parts):
    frame = parts["frame"]
    assert list(frame.columns) == ["user", "artist", "label", *FEATURES]
    for f in FEATURES:
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
    assert row["als_rank_inv"] == pytest.approx(1 / row["als_rank"])
    assert row["als_x_cos"] == pytest.approx(row["als_score"] * row["cos_profile"], rel=1e-4)


def test_split_listeners_is_seeded_and_disjoint():
    users = [f"u{i}" for i in range(40)]
    fit, held = split_listeners(users, 0.25, 3)
    assert len(held) == 10 and not set(fit) & set(held) and len(fit) + len(held) == 40
    again = split_listeners(list(reversed(users)), 0.25, 3)
    assert list(again[1]) == list(held)


def test_train_ranker_is_deterministic_and_saved_as_text(parts):
    frame = parts["frame"]
    a, info = train_ranker(frame, RCFG, seed=5)
    b, _ = train_ranker(frame.sample(frac=1.0, random_state=1), RCFG, seed=5)
    assert booster_to_text(a) == booster_to_text(b)
    assert set(info["importance_gain"]) == set(FEATURES)
    assert 1 <= info["best_iteration"] <= RCFG.n_estimators
    assert a.current_iteration() == info["best_iteration"]
    assert info["valid_listeners"] > 0 and info["train_listeners"] > info["valid_listeners"]
    positives = frame.groupby("user", observed=True)["label"].sum()
    assert info["dropped_no_positive_train"] + info["dropped_no_positive_valid"] == int(
        (positives == 0).sum()
    )
    loaded = booster_from_text(booster_to_text(a))
    np.testing.assert_allclose(predict(loaded, frame), predict(a, frame))


def test_reranker_learns_from_content(parts):
    """On held-out listeners the ranker orders candidates better than ALS alone."""
    frame = parts["frame"]
    booster, info = train_ranker(frame, RCFG, seed=5)
    _, held = split_listeners(frame["user"].astype(str).unique(), RCFG.valid_fraction, 5)
    test = frame[frame["user"].astype(str).isin(held)].copy()
    test["ranker"] = predict(booster, test)

    def mean_rank_of_positives(col):
        r = test.groupby("user", observed=True)[col].rank(ascending=False)
        return float(r[test["label"] == 1].mean())

    test["als"] = test["als_score"]
    assert mean_rank_of_positives("ranker") < mean_rank_of_positives("als")
    assert info["importance_gain"]["genre_overlap"] + info["importance_gain"]["tempo_diff"] > 0


def test_empty_candidates_give_an_empty_frame(parts):
    empty = parts["cand"].iloc[:0]
    out = rerank_frame(empty, parts["profiles"], parts["items"])
    assert len(out) == 0 and list(out.columns) == ["user", "artist", *FEATURES]
    assert isinstance(out, pd.DataFrame)
