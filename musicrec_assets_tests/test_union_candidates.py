"""Union candidates of every generator: seen artists removed, each generator's own top-N intact,
every pair scored by every generator, independent of chunking. Expected values are dense NumPy
computations from the fitted models' weights."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.config import ALSConfig, EASEConfig, ItemKNNConfig, RP3betaConfig
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.candidates import generator_topk
from musicrec_assets.core.model.generators.als import fold_in, popularity_prior, score
from musicrec_assets.core.model.generators.stages import StageModels, fit_stage
from musicrec_assets.core.model.topn import collect_candidates, iter_candidates, topn_dense
from musicrec_assets_tests.model_data import make_world

N = 10
GENERATORS = ("als", "ease", "rp3beta", "itemknn", "popularity")
SETTINGS = {
    "als": ALSConfig(factors=8, iterations=3),
    "ease": EASEConfig(regularization=30.0, max_artists=30),  # fewer than the 60 artists
    "rp3beta": RP3betaConfig(alpha=0.8, beta=0.4, neighbours=20, weighting="binary"),
    "itemknn": ItemKNNConfig(kind="bm25", neighbours=15, weighting="log1p"),
    "popularity": None,
}
NEWCOMERS = ("zz_new0", "zz_new1")  # listeners with history that the models were not fitted on
EMPTY = "zz_empty"  # a listener without any history


@pytest.fixture(scope="module")
def setup():
    val = stage_data(make_world(80, 60, 5, seed=2).splits, "val")
    fit = val.fit.astype({"user": str, "artist": str})
    models = fit_stage(fit, SETTINGS, 1, num_threads=1)
    donors = fit[fit["user"].isin(["user00003", "user00011"])]
    rename = dict(zip(["user00003", "user00011"], NEWCOMERS, strict=True))
    new = donors.assign(user=donors["user"].map(rename))
    new = new[new.index % 3 != 0]  # not a copy of the donors' exact histories
    history = pd.concat([fit[["user", "artist", "plays"]], new[["user", "artist", "plays"]]])
    history = history.sample(frac=1.0, random_state=0).reset_index(drop=True)  # unsorted input
    users = np.r_[val.target_users.astype(str), list(NEWCOMERS), [EMPTY]]
    cands = collect_candidates(
        iter_candidates(models, history, users, N, chunk_size=13, num_threads=1)
    )
    return models, history, np.unique(users), cands


def _str(frame):
    return frame.astype({"user": str, "artist": str})


def _hand_itemitem_scores(model, history, users):
    """Dense scores (users × model artists) as weighted history rows times W, in float64."""
    artists = pd.Index(np.asarray(model.artists, dtype=str))
    h = np.zeros((len(users), len(artists)))
    r = pd.Index(users).get_indexer(history["user"])
    c = artists.get_indexer(history["artist"])
    ok = (r >= 0) & (c >= 0)
    np.add.at(h, (r[ok], c[ok]), history["plays"].to_numpy(float)[ok])
    seen = h > 0
    if model.weighting == "binary":
        h = seen.astype(float)
    elif model.weighting == "log1p":
        h = np.log1p(h)
    if model.row_power is not None:
        sums = h.sum(axis=1, keepdims=True)
        h = np.power(h / np.where(sums > 0, sums, 1.0), model.row_power)
    w = model.weights.toarray() if hasattr(model.weights, "toarray") else model.weights
    return h @ np.asarray(w, dtype=np.float64), seen, artists


def _assert_topn(got_artists, scores, seen, artists, n):
    """``got_artists`` (rank order) is a top-n of ``scores`` over unseen artists: the same
    length, never a seen artist, and scores equal to the n best (so only ties may swap)."""
    unseen = np.flatnonzero(~seen)
    best = np.sort(scores[unseen])[::-1][:n]
    cols = artists.get_indexer(got_artists)
    assert (cols >= 0).all() and not seen[cols].any()
    assert len(cols) == len(best)
    np.testing.assert_allclose(scores[cols], best, rtol=1e-4, atol=1e-6)


def test_seen_artists_never_appear_and_pairs_are_unique(setup):
    _, history, users, cands = setup
    frame = _str(cands)
    assert list(cands.columns) == ["user", "artist"] + [
        f"{g}_{c}" for g in GENERATORS for c in ("score", "rank")
    ]
    assert frame.merge(history, on=["user", "artist"]).empty
    assert not frame.duplicated(["user", "artist"]).any()
    assert set(frame["user"]) == set(users)
    assert cands.attrs["info"]["users"] == len(users)
    assert cands.attrs["info"]["rows"] == len(cands)


@pytest.mark.parametrize("name", ["ease", "rp3beta", "itemknn"])
def test_itemitem_top_n_is_the_dense_hand_computation(setup, name):
    models, history, users, cands = setup
    model = models.models[name]
    scores, seen, artists = _hand_itemitem_scores(model, history, users)
    frame = _str(cands)
    own = frame[frame[f"{name}_rank"].notna()].sort_values(["user", f"{name}_rank"])
    for i, user in enumerate(users):
        mine = own[own["user"] == user]
        assert mine[f"{name}_rank"].tolist() == list(range(1, len(mine) + 1))
        _assert_topn(mine["artist"].to_numpy(), scores[i], seen[i], artists, N)
    # the score column is the generator's score of the pair, whoever proposed it
    r = pd.Index(users).get_indexer(frame["user"])
    c = artists.get_indexer(frame["artist"])
    known = c >= 0
    got = frame[f"{name}_score"].to_numpy()
    np.testing.assert_allclose(got[known], scores[r[known], c[known]], rtol=1e-4, atol=1e-6)
    assert np.isnan(got[~known]).all()
    if name == "ease":  # EASE covers 30 of 60 artists: some pairs come only from others
        assert (~known).any()
    proposed_by_others = frame[f"{name}_rank"].isna().to_numpy() & known
    assert proposed_by_others.sum() > 50


def test_als_scores_pairs_and_folds_in_unknown_listeners(setup):
    models, history, users, cands = setup
    als = models.models["als"]
    assert not set(NEWCOMERS) & set(als.users)
    info = cands.attrs["info"]
    assert info["als_users_in_model"] == len(users) - 3
    assert info["als_users_folded_in"] == 2
    assert info["als_users_popularity_only"] == 1
    frame = _str(cands)
    artists = pd.Index(np.asarray(als.artists, dtype=str))
    for user in [users[0], users[5], *NEWCOMERS, EMPTY]:
        mine = history[history["user"] == user]
        if user in set(als.users):
            vec = als.user_factors[als.user_index([user])[0]]
        else:
            vec = fold_in(als, pd.Series(mine["plays"].to_numpy(), index=mine["artist"]))
            assert np.any(vec != 0) == (user != EMPTY)
        s = score(als, vec[None, :])[0].astype(np.float64)
        seen = np.zeros(len(artists), dtype=bool)
        seen[artists.get_indexer(mine["artist"])] = True
        rows = frame[frame["user"] == user]
        top = rows[rows["als_rank"].notna()].sort_values("als_rank")
        _assert_topn(top["artist"].to_numpy(), s, seen, artists, N)
        # every candidate of this listener, whoever proposed it, carries ALS's own score
        np.testing.assert_allclose(
            rows["als_score"].to_numpy(),
            s[artists.get_indexer(rows["artist"])],
            rtol=1e-4,
            atol=1e-5,
        )
    # the listener without history is ranked by ALS's popularity prior
    empty = frame[(frame["user"] == EMPTY) & frame["als_rank"].notna()].sort_values("als_rank")
    prior = popularity_prior(als)[artists.get_indexer(empty["artist"])]
    assert (np.diff(prior) <= 0).all()


def test_popularity_candidates_are_the_most_popular_unseen(setup):
    _, history, users, cands = setup
    fit = history[~history["user"].isin([*NEWCOMERS, EMPTY])]
    stats = fit.groupby("artist").agg(listeners=("user", "size"), plays=("plays", "sum"))
    stats = stats.reset_index().sort_values(
        ["listeners", "plays", "artist"], ascending=[False, False, True]
    )
    ranking = stats["artist"].tolist()
    frame = _str(cands)
    for user in users:
        seen = set(history.loc[history["user"] == user, "artist"])
        expected = [a for a in ranking if a not in seen][:N]
        rows = frame[(frame["user"] == user) & frame["popularity_rank"].notna()]
        rows = rows.sort_values("popularity_rank")
        assert rows["artist"].tolist() == expected, user
    listeners = dict(zip(stats["artist"], stats["listeners"], strict=True))
    np.testing.assert_array_equal(
        frame["popularity_score"].to_numpy(), frame["artist"].map(listeners).to_numpy()
    )


@pytest.mark.parametrize("name", GENERATORS)
def test_each_generator_top_n_is_what_it_alone_produces(setup, name):
    models, history, users, cands = setup
    alone = collect_candidates(
        iter_candidates(StageModels({name: models.models[name]}), history, users, N, num_threads=1)
    )
    assert alone[f"{name}_rank"].notna().all()
    expected = _str(alone)[["user", "artist", f"{name}_rank", f"{name}_score"]]
    frame = _str(cands)
    got = frame[frame[f"{name}_rank"].notna()][expected.columns]
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected.reset_index(drop=True), check_exact=False, rtol=1e-6
    )
    assert cands.attrs["info"][f"{name}_rows"] == len(alone)
    per_user = got.groupby("user").size()
    assert (per_user <= N).all() and len(per_user) == len(users)
    topk = generator_topk(cands, name, 3)
    assert list(topk.columns) == ["user", "rank", "artist", "score"]
    sub = expected[expected[f"{name}_rank"] <= 3].sort_values(["user", f"{name}_rank"])
    assert topk["artist"].astype(str).tolist() == sub["artist"].tolist()
    assert topk["rank"].tolist() == sub[f"{name}_rank"].astype(int).tolist()


def test_results_do_not_depend_on_chunk_size(setup):
    models, history, users, cands = setup
    for size in (1, 7, 100_000):
        other = collect_candidates(
            iter_candidates(models, history, users, N, chunk_size=size, num_threads=1)
        )
        pd.testing.assert_frame_equal(other, cands)
        assert other.attrs["info"] == cands.attrs["info"]


def test_history_of_other_listeners_is_ignored(setup):
    models, history, users, cands = setup
    some = users[:5]
    part = collect_candidates(iter_candidates(models, history, some, N, num_threads=1))
    full = _str(cands)
    expected = full[full["user"].isin(some)].reset_index(drop=True)
    pd.testing.assert_frame_equal(_str(part), expected)


def test_topn_dense_orders_by_score_then_column():
    scores = np.array(
        [
            [0.5, 2.0, -np.inf, 2.0, 1.0],
            [-np.inf, -np.inf, 3.0, -np.inf, -np.inf],
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    cols, vals = topn_dense(scores, 3)
    assert cols.tolist() == [[1, 3, 4], [2, 0, 1], [0, 1, 2]]
    np.testing.assert_array_equal(vals, [[2.0, 2.0, 1.0], [3.0, -np.inf, -np.inf], [0.0, 0.0, 0.0]])
    cols, vals = topn_dense(scores, 9)  # more than the columns: every column, ranked
    assert cols.tolist()[0] == [1, 3, 4, 0, 2]
    assert np.isneginf(vals[0, -1])
    cols, vals = topn_dense(scores, 0)
    assert cols.shape == (3, 0) and vals.shape == (3, 0)
