"""ALS wrapper: k-core re-indexing, BM25 orientation, the one scoring function, fold-in, npz."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from implicit.nearest_neighbours import bm25_weight

from musicrec_assets.core.artifacts import read_npz, write_npz
from musicrec_assets.core.config import ALSConfig
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.generators.als import (
    ALSModel,
    fit_als,
    fold_in,
    fold_in_rows,
    kcore_mask,
    popularity_prior,
    row_weights,
    score,
    scoring_factors,
)
from musicrec_assets_tests.model_data import make_world

CFG = ALSConfig(factors=8, iterations=6, weighting="bm25")


@pytest.fixture(scope="module")
def world():
    return make_world(120, 90, 5, seed=3)


@pytest.fixture(scope="module")
def fit(world):
    return stage_data(world.splits, "val").fit


def test_kcore_is_iterative():
    # u3 has 1 artist -> dropped; then artist c has 1 listener -> dropped; then u2 has 1 -> dropped
    u = np.array([0, 0, 1, 1, 2, 2, 3])
    i = np.array([0, 1, 0, 1, 1, 2, 3])
    keep, rounds = kcore_mask(u, i, 2, 2)
    assert keep.tolist() == [True, True, True, True, False, False, False]
    assert rounds >= 2


def test_filtered_artists_and_users_are_reindexed_away(fit):
    rare = pd.DataFrame(
        {
            "user": ["user00000", "user00001", "loner"],
            "artist": ["rare1", "rare1", "rare2"],
            "plays": [4, 9, 2],
        }
    )
    fit = pd.concat([fit, rare], ignore_index=True)
    cfg = ALSConfig(factors=8, iterations=6, min_user_artists=3, min_artist_listeners=4)
    model = fit_als(fit, cfg, 1)
    assert "rare1" not in set(model.artists) and "loner" not in set(model.users)
    listeners = fit.groupby("artist")["user"].size()
    assert set(model.artists) <= set(listeners[listeners >= 4].index)
    assert model.info["artists_filtered"] > 0
    assert len(model.artists) == model.item_factors.shape[0] == len(model.item_listeners)
    assert len(model.users) == model.user_factors.shape[0]
    assert np.all(np.linalg.norm(model.item_factors, axis=1) > 0)
    assert np.all(model.item_listeners >= 1)
    assert list(model.artists) == sorted(model.artists)


def test_bm25_weights_artists_as_documents_like_implicit(fit):
    model = fit_als(fit, CFG, 1)
    u = model.user_index(fit["user"])
    i = model.artist_index(fit["artist"])
    plays = fit["plays"].to_numpy(float)
    mat = sp.csr_matrix((plays, (u, i)), shape=(len(model.users), len(model.artists)))
    expected = bm25_weight(mat.T, K1=CFG.bm25_k1, B=CFG.bm25_b).T.tocsr()
    coo = mat.tocoo()
    ours = row_weights(model, coo.row, coo.col, coo.data)
    np.testing.assert_allclose(ours, np.asarray(expected[coo.row, coo.col]).ravel(), rtol=1e-6)
    assert np.all(ours > 0)


def test_negative_bm25_weights_are_floored_not_dislikes():
    # one listener of every artist: idf = ln(N) - ln(1 + N) < 0 for them.
    rows = [("fan", f"a{j}", 3) for j in range(6)] + [(f"u{j}", f"a{j}", 2) for j in range(6)]
    df = pd.DataFrame(rows, columns=["user", "artist", "plays"])
    model = fit_als(df, ALSConfig(factors=4, iterations=3, weighting="bm25"), 0)
    assert model.info["weights_floored"] == 6


def test_scoring_function_cosine_and_popularity_prior(fit):
    cfg = ALSConfig(factors=8, iterations=6, cosine=True, pop_blend=0.3)
    model = fit_als(fit, cfg, 1)
    vec = model.user_factors[:3]
    u = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    v = model.item_factors / np.linalg.norm(model.item_factors, axis=1, keepdims=True)
    prior = np.log1p(model.item_plays) / np.log1p(model.item_plays).max()
    np.testing.assert_allclose(score(model, vec), 0.7 * u @ v.T + 0.3 * prior, atol=1e-5)
    np.testing.assert_allclose(popularity_prior(model), prior, atol=1e-6)
    # a listener with no vector is ranked by popularity, not by ties
    cold = score(model, np.zeros((1, model.factors), np.float32))[0]
    np.testing.assert_allclose(cold, prior, atol=1e-6)
    u_aug, i_aug = scoring_factors(model, vec)
    assert u_aug.shape[1] == i_aug.shape[1] == model.factors + 1


def test_npz_round_trip_without_pickle(fit, tmp_path):
    model = fit_als(fit, CFG, 1)
    path = write_npz(model.to_npz(prefix="val__"), tmp_path / "m.npz")
    back = ALSModel.from_npz(read_npz(path), prefix="val__")  # read_npz: allow_pickle=False
    np.testing.assert_array_equal(back.item_factors, model.item_factors)
    np.testing.assert_array_equal(back.users, model.users)
    assert back.weighting == model.weighting and back.cosine == model.cosine
    assert back.info == model.info
    np.testing.assert_allclose(
        score(back, back.user_factors[:2]), score(model, model.user_factors[:2])
    )


def test_same_seed_same_factors(fit):
    a, b = fit_als(fit, CFG, 5), fit_als(fit, CFG, 5)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)


def test_fold_in_recovers_a_known_listener(fit):
    model = fit_als(fit, ALSConfig(factors=8, iterations=15), 1)
    user = model.users[0]
    rows = fit[fit["user"] == user]
    vec = fold_in(model, dict(zip(rows["artist"], rows["plays"], strict=True)))
    fitted = model.user_factors[0]
    cos = vec @ fitted / np.linalg.norm(vec) / np.linalg.norm(fitted)
    assert cos > 0.95
    # unknown artists are ignored; nothing known -> zero vector
    assert not np.any(fold_in(model, {"no such artist": 5.0}))
    batch = fold_in_rows(
        model, np.zeros(len(rows), int), rows["artist"].to_numpy(), rows["plays"].to_numpy(), 1
    )
    np.testing.assert_allclose(batch[0], vec, rtol=1e-5)


@pytest.mark.parametrize("weighting", ["bm25", "log1p", "none"])
def test_all_weightings_fit(fit, weighting):
    model = fit_als(fit, ALSConfig(factors=4, iterations=2, weighting=weighting), 0)
    assert model.item_factors.dtype == np.float32
    assert np.isfinite(model.item_factors).all()


def test_warm_start_copies_the_previous_vectors_by_key(fit):
    cold = fit_als(fit, CFG, 7)
    # A later stage with one extra listener and the rows in another order: vectors must follow
    # the keys, the new listener gets a fresh random start.
    extra = pd.DataFrame({"user": ["zz new"], "artist": [fit["artist"].iloc[0]], "plays": [3]})
    later = pd.concat([extra, fit.iloc[::-1]], ignore_index=True)
    cfg = ALSConfig(factors=8, iterations=6, weighting="bm25", warm_iterations=0)
    warm = fit_als(later, cfg, 7, warm_start=cold)
    assert warm.info["warm_started"] == 1.0 and warm.info["iterations"] == 0.0
    rows = warm.user_index(cold.users)
    np.testing.assert_array_equal(warm.user_factors[rows], cold.user_factors)
    np.testing.assert_array_equal(warm.item_factors, cold.item_factors)
    new = warm.user_factors[warm.user_index(["zz new"])[0]]
    assert np.all((new >= 0) & (new < 0.01)) and np.any(new != 0)


def test_warm_start_converges_like_a_cold_fit(world):
    train = stage_data(world.splits, "val").fit
    full = stage_data(world.splits, "test").fit
    cfg = ALSConfig(factors=8, iterations=15, weighting="bm25", warm_iterations=5)
    cold = fit_als(full, cfg, 2)
    warm = fit_als(full, cfg, 2, warm_start=fit_als(train, cfg, 2))
    assert warm.info["iterations"] == 5.0 and cold.info["iterations"] == 15.0
    # Same rows get nearly the same scores: compare each listener's top-10 artists.
    a, b = score(cold, cold.user_factors), score(warm, warm.user_factors)
    top_a, top_b = np.argsort(-a, axis=1)[:, :10], np.argsort(-b, axis=1)[:, :10]
    overlap = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(top_a, top_b, strict=True)])
    assert overlap > 0.7
