"""ALS as a candidate generator: seen items removed, the model's one score, re-indexing,
fold-in, recall."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.config import ALSConfig
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.ids import codes_in
from musicrec_assets.core.model.candidates import candidate_recall
from musicrec_assets.core.model.generators.als import _implicit, fit_als, score
from musicrec_assets.core.model.generators.stages import StageModels
from musicrec_assets.core.model.topn import _csr, collect_candidates, iter_candidates
from musicrec_assets_tests.model_data import make_world


def als_candidates(model, seen, users, n, **kw):
    """ALS alone through the union generator, rows by listener then rank."""
    cand = collect_candidates(iter_candidates(StageModels({"als": model}), seen, users, n, **kw))
    cand = cand.sort_values(["user", "als_rank"], kind="stable").reset_index(drop=True)
    cand["als_rank"] = cand["als_rank"].astype(int)
    return cand


def seen_matrix(model, seen, users):
    rows = codes_in(pd.Index(users), seen["user"])
    cols = codes_in(pd.Index(model.artists), seen["artist"])
    ok = rows >= 0
    return _csr(rows[ok], cols[ok], len(users), len(model.artists))


@pytest.fixture(scope="module")
def stage():
    return stage_data(make_world(150, 100, 6, seed=4).splits, "val")


def test_candidates_exclude_seen_and_are_ranked(stage):
    model = fit_als(stage.fit, ALSConfig(factors=8, iterations=6), 1)
    cand = als_candidates(model, stage.seen, stage.target_users, 30, chunk_size=37)
    assert list(cand.columns) == ["user", "artist", "als_score", "als_rank"]
    assert not cand.duplicated(["user", "artist"]).any()
    merged = cand.astype({"user": str, "artist": str}).merge(stage.seen, on=["user", "artist"])
    assert merged.empty
    per_user = cand.groupby("user", observed=True)
    assert (per_user.size() == 30).all()
    assert set(cand["user"].astype(str)) == set(stage.target_users)
    assert per_user["als_rank"].apply(lambda r: r.tolist() == list(range(1, 31))).all()
    assert per_user["als_score"].apply(lambda s: s.is_monotonic_decreasing).all()


def test_candidate_scores_are_the_one_scoring_function(stage):
    cfg = ALSConfig(factors=8, iterations=6, cosine=True, pop_blend=0.2)
    model = fit_als(stage.fit, cfg, 1)
    users = stage.target_users[:5]
    cand = als_candidates(model, stage.seen, users, 10)
    dense = score(model, model.user_factors[model.user_index(users)])
    seen = seen_matrix(model, stage.seen, users).toarray() > 0
    dense[seen] = -np.inf
    for row, user in enumerate(users):
        got = cand[cand["user"] == user]
        expect = np.sort(dense[row])[::-1][:10]
        np.testing.assert_allclose(got["als_score"].to_numpy(), expect, rtol=1e-5, atol=1e-6)


def test_plain_dot_product_matches_implicit_recommend(stage):
    cfg = ALSConfig(factors=8, iterations=6, cosine=False, pop_blend=0.0)
    model = fit_als(stage.fit, cfg, 1)
    users = stage.target_users[:20]
    cand = als_candidates(model, stage.seen, users, 15)
    als = _implicit(8, 0.05, 1.0, 0, 1)
    als.user_factors, als.item_factors = model.user_factors, model.item_factors
    rows = model.user_index(users)
    ids, _ = als.recommend(rows, seen_matrix(model, stage.seen, users), N=15)
    expect = model.artists[ids].astype(str).ravel()
    np.testing.assert_array_equal(cand["artist"].astype(str).to_numpy(), expect)


def test_filtered_artist_never_a_candidate_and_no_zero_vector_outranks(stage):
    rare = pd.DataFrame({"user": [stage.target_users[0]], "artist": ["only once"], "plays": [50]})
    fit = pd.concat([stage.fit[["user", "artist", "plays"]], rare], ignore_index=True)
    cfg = ALSConfig(factors=8, iterations=6, min_artist_listeners=2)
    model = fit_als(fit, cfg, 1)
    cand = als_candidates(model, fit, stage.target_users, 60)
    assert "only once" not in set(cand["artist"].astype(str))
    assert set(cand["artist"].astype(str)) <= set(model.artists)
    assert np.all(np.linalg.norm(model.item_factors, axis=1) > 0)


def test_users_unknown_to_the_model_are_folded_in_or_get_popularity(stage):
    cfg = ALSConfig(factors=8, iterations=6, min_user_artists=10)
    model = fit_als(stage.fit, cfg, 1)
    n_items = stage.fit.groupby("user").size()
    light = n_items[n_items < 10].index[:3].tolist()
    assert light and not set(light) & set(model.users)
    ghost = "never seen"
    cand = als_candidates(model, stage.seen, [*light, ghost], 5)
    info = cand.attrs["info"]
    assert info["als_users_folded_in"] == len(light) and info["als_users_popularity_only"] == 1
    ghost_top = cand[cand["user"] == ghost]["artist"].astype(str).tolist()
    order = np.argsort(-model.item_plays, kind="stable")
    assert ghost_top[0] == model.artists[order[0]]
    folded = cand[cand["user"].isin(light)].astype({"user": str, "artist": str})
    assert folded.merge(stage.seen, on=["user", "artist"]).empty


def test_candidate_recall():
    cand = pd.DataFrame({"user": ["u", "u", "v"], "artist": ["a", "b", "a"]})
    labels = pd.DataFrame({"user": ["u", "u", "v", "v"], "artist": ["a", "z", "a", "b"]})
    r = candidate_recall(cand, labels)
    assert r["micro"] == pytest.approx(2 / 4)
    assert r["per_user_mean"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert r["label_pairs"] == 4 and r["users"] == 2
