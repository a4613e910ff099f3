"""The item-item generators (EASE, RP3beta, item-kNN), popularity and a stage's fitted set.

Every expected value is computed independently with dense NumPy on tiny matrices.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from musicrec_assets.core.artifacts import write_npz
from musicrec_assets.core.config import ALSConfig, EASEConfig, ItemKNNConfig, RP3betaConfig
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.generators import rp3beta as rp3
from musicrec_assets.core.model.generators.als import ALSModel, score
from musicrec_assets.core.model.generators.ease import fit_ease
from musicrec_assets.core.model.generators.itemitem import (
    ItemItemModel,
    keep_top_per_row,
    top_dense_rows,
    weigh,
)
from musicrec_assets.core.model.generators.itemknn import fit_itemknn
from musicrec_assets.core.model.generators.popularity import PopularityModel, fit_popularity
from musicrec_assets.core.model.generators.stages import (
    StageModels,
    fit_stage,
    stages_from_npz,
    stages_to_npz,
)
from musicrec_assets_tests.model_data import make_world

# 6 listeners × 7 artists, distinct play counts (no ties in the hand computations below).
PLAYS = np.array(
    [
        [3, 0, 7, 1, 0, 0, 2],
        [0, 5, 2, 0, 9, 0, 0],
        [4, 1, 0, 0, 6, 3, 0],
        [0, 0, 8, 2, 0, 11, 1],
        [13, 2, 0, 5, 0, 0, 4],
        [0, 6, 1, 0, 3, 2, 0],
    ],
    dtype=np.float64,
)
ARTISTS = np.array([f"artist{j}" for j in range(PLAYS.shape[1])], dtype=object)


def _weighted(plays, weighting):
    if weighting == "binary":
        return (plays > 0).astype(np.float64)
    if weighting == "log1p":
        return np.log1p(plays)
    return plays.copy()


def _top_per_row(dense, k):
    """Each row's k largest positive entries (ties: lower column), others zero."""
    out = np.zeros_like(dense)
    for i, row in enumerate(dense):
        cols = [j for j in np.lexsort((np.arange(len(row)), -row)) if row[j] > 0][:k]
        out[i, cols] = row[cols]
    return out


def _model(weights, weighting="none", row_power=None):
    m = len(weights.toarray() if sp.issparse(weights) else weights)
    artists = np.array([f"a{j}" for j in range(m)], dtype=object)
    return ItemItemModel(
        "test", artists, weights, weighting, {"k": 3}, {"n": 1.0}, row_power=row_power
    )


# ---------------------------------------------------------------- ItemItemModel


@pytest.mark.parametrize("weighting", ["binary", "log1p", "none"])
def test_history_weights_summed_plays_and_scores_are_history_times_w(weighting):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4)).astype(np.float32)
    model = _model(w, weighting)
    # row 0 plays artist 1 twice (2 + 3 plays), row 1 has an unknown artist (-1), row 2 is empty
    rows = np.array([0, 0, 0, 1, 1])
    cols = np.array([1, 1, 3, 2, -1])
    plays = np.array([2.0, 3.0, 4.0, 6.0, 100.0])
    hist = model.history(rows, cols, plays, 3)
    raw = np.zeros((3, 4))
    raw[0, 1], raw[0, 3], raw[1, 2] = 5.0, 4.0, 6.0
    expected_hist = np.where(raw > 0, _weighted(raw, weighting), 0.0)
    np.testing.assert_allclose(hist.toarray(), expected_hist, rtol=1e-6)
    np.testing.assert_allclose(model.scores(hist), expected_hist @ w, rtol=1e-5, atol=1e-6)
    assert model.scores(hist).dtype == np.float32


def test_history_with_row_power_normalises_rows_then_raises_them():
    w = sp.csr_matrix(np.arange(16, dtype=np.float32).reshape(4, 4))
    model = _model(w, "log1p", row_power=0.5)
    rows = np.array([0, 0, 1, 1, 1])
    cols = np.array([0, 2, 1, 2, 3])
    plays = np.array([1.0, 3.0, 2.0, 2.0, 7.0])
    hist = model.history(rows, cols, plays, 3).toarray()
    raw = np.zeros((3, 4))
    raw[0, [0, 2]] = np.log1p([1.0, 3.0])
    raw[1, [1, 2, 3]] = np.log1p([2.0, 2.0, 7.0])
    sums = raw.sum(axis=1, keepdims=True)
    expected = np.power(np.divide(raw, np.where(sums > 0, sums, 1.0)), 0.5)
    np.testing.assert_allclose(hist, expected, rtol=1e-6)
    assert (hist[:2].sum(axis=1) > 1.0).all()  # square roots of shares sum to more than 1
    np.testing.assert_allclose(model.scores(sp.csr_matrix(hist)), expected @ w.toarray(), rtol=1e-5)


def test_weigh_rejects_unknown_weighting():
    with pytest.raises(ValueError, match="weighting"):
        weigh(np.array([1.0]), "bm25")


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("row_power", [None, 0.7])
def test_itemitem_npz_round_trip(tmp_path, sparse, row_power):
    rng = np.random.default_rng(1)
    dense = np.where(rng.random((5, 5)) < 0.5, rng.normal(size=(5, 5)), 0.0).astype(np.float32)
    weights = sp.csr_matrix(dense) if sparse else dense
    params = {"regularization": 12.5, "neighbours": 40, "weighting": "log1p", "kind": "bm25"}
    model = ItemItemModel(
        "rp3beta",
        np.array(["b", "c", "d", "e", "f"], dtype=object),
        weights,
        "log1p",
        params,
        {"artists_fit": 5.0, "weights_nnz": 9.0},
        row_power=row_power,
    )
    write_npz(model.to_npz("s__rp3beta__"), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    back = ItemItemModel.from_npz("rp3beta", arrays, "s__rp3beta__")
    assert back.name == "rp3beta"
    assert back.artists.tolist() == ["b", "c", "d", "e", "f"]
    assert back.weighting == "log1p"
    assert back.row_power == row_power
    assert back.params == params
    assert [type(v) for v in back.params.values()] == [float, int, str, str]
    assert back.info == model.info
    assert sp.issparse(back.weights) == sparse
    hist = model.history(np.array([0, 0, 1]), np.array([1, 4, 2]), np.array([3.0, 1.0, 8.0]), 2)
    hist_back = back.history(np.array([0, 0, 1]), np.array([1, 4, 2]), np.array([3.0, 1.0, 8.0]), 2)
    np.testing.assert_array_equal(back.scores(hist_back), model.scores(hist))


def test_keep_top_per_row_keeps_k_largest_ties_to_lower_column():
    rng = np.random.default_rng(2)
    # small integers: many ties, some rows shorter than k, one empty row
    dense = rng.integers(1, 4, size=(8, 9)) * (rng.random((8, 9)) < 0.6)
    dense[3] = 0
    dense[5, :] = 0
    dense[5, [2, 7]] = [1, 2]
    for k in (1, 2, 3, 9):
        got = keep_top_per_row(sp.csr_matrix(dense.astype(np.float64)), k)
        np.testing.assert_array_equal(got.toarray(), _top_per_row(dense.astype(float), k))
        assert np.diff(got.indptr).max() <= k


def test_top_dense_rows_keeps_k_largest_positive_entries():
    rng = np.random.default_rng(3)
    block = rng.normal(size=(6, 8))  # distinct values, about half of them negative
    block[2] = -1.0
    block[4, 3] = 0.0
    for k in (1, 3, 8, 20):
        got = top_dense_rows(block, k)
        np.testing.assert_array_equal(got.toarray(), _top_per_row(block, k))
        assert got.has_sorted_indices


# ---------------------------------------------------------------- EASE


@pytest.mark.parametrize("weighting", ["binary", "log1p"])
def test_ease_is_the_closed_form_with_zero_diagonal(weighting):
    x = sp.csr_matrix(PLAYS)
    lam = 3.0
    model = fit_ease(x, ARTISTS, regularization=lam, weighting=weighting, max_artists=100)
    xw = _weighted(PLAYS, weighting)
    p = np.linalg.inv(xw.T @ xw + lam * np.eye(PLAYS.shape[1]))
    expected = np.empty_like(p)
    for i in range(p.shape[0]):
        for j in range(p.shape[1]):
            expected[i, j] = 0.0 if i == j else -p[i, j] / p[j, j]
    b = np.asarray(model.weights)
    assert b.dtype == np.float32
    np.testing.assert_array_equal(np.diag(b), 0.0)
    np.testing.assert_allclose(b, expected, rtol=1e-4, atol=1e-6)
    assert model.artists.tolist() == ARTISTS.tolist()
    assert model.name == "ease" and model.weighting == weighting and model.row_power is None
    # scoring a listener is their weighted row times B
    hist = model.history(np.zeros(2, int), np.array([0, 2]), np.array([3.0, 7.0]), 1)
    row = np.zeros(PLAYS.shape[1])
    row[[0, 2]] = _weighted(np.array([3.0, 7.0]), weighting)
    np.testing.assert_allclose(model.scores(hist)[0], row @ expected, rtol=1e-4, atol=1e-6)


def test_ease_max_artists_keeps_the_most_listened():
    # listeners per column: 3, 1, 4, 2, 4, 2 -> the 3 most listened are columns 0, 2, 4
    plays = np.array(
        [
            [1, 0, 2, 1, 3, 0],
            [2, 0, 1, 0, 1, 5],
            [4, 7, 1, 2, 1, 0],
            [0, 0, 3, 0, 2, 1],
        ],
        dtype=np.float64,
    )
    artists = np.array(list("pqrstu"), dtype=object)
    model = fit_ease(
        sp.csr_matrix(plays), artists, regularization=1.0, weighting="binary", max_artists=3
    )
    assert model.artists.tolist() == ["p", "r", "t"]
    sub = (plays[:, [0, 2, 4]] > 0).astype(float)
    p = np.linalg.inv(sub.T @ sub + np.eye(3))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(np.asarray(model.weights), expected, rtol=1e-4, atol=1e-6)
    assert model.info["artists_fit"] == 3.0 and model.info["artists_in"] == 6.0
    # ties on listeners: the lower column wins (columns 3 and 5 both have 2 listeners)
    four = fit_ease(
        sp.csr_matrix(plays), artists, regularization=1.0, weighting="binary", max_artists=4
    )
    assert four.artists.tolist() == ["p", "r", "s", "t"]


# ---------------------------------------------------------------- RP3beta


def _rp3beta_dense(plays, alpha, beta, neighbours, weighting):
    x = _weighted(plays, weighting)
    p_ua = np.power(x / x.sum(axis=1, keepdims=True), alpha)
    p_au = np.power(x.T / x.T.sum(axis=1, keepdims=True), alpha)
    w = p_au @ p_ua
    listeners = (plays > 0).sum(axis=0).astype(float)
    w = w / np.power(listeners, beta)[None, :]
    np.fill_diagonal(w, 0.0)
    return _top_per_row(w, neighbours)


@pytest.fixture
def spy_paths(monkeypatch):
    calls = {"dense": 0, "sparse": 0}

    def dense(*args, **kwargs):
        calls["dense"] += 1
        return top_dense_rows(*args, **kwargs)

    def sparse(*args, **kwargs):
        calls["sparse"] += 1
        return keep_top_per_row(*args, **kwargs)

    monkeypatch.setattr(rp3, "top_dense_rows", dense)
    monkeypatch.setattr(rp3, "keep_top_per_row", sparse)
    return calls


@pytest.mark.parametrize("path", ["sparse", "dense"])
@pytest.mark.parametrize(
    ("alpha", "beta", "neighbours", "weighting"),
    [(1.0, 0.0, 100, "binary"), (0.8, 0.3, 3, "none"), (1.3, 0.6, 2, "log1p")],
)
def test_rp3beta_equals_dense_hand_computation(
    monkeypatch, spy_paths, path, alpha, beta, neighbours, weighting
):
    if path == "sparse":
        monkeypatch.setattr(rp3, "DENSE_CELLS", 0)
        monkeypatch.setattr(rp3, "BLOCK_ARTISTS", 3)  # several blocks: diagonal offsets matter
    else:
        monkeypatch.setattr(rp3, "DENSE_SHARE", 0.0)
    got = rp3.rp3beta_weights(
        sp.csr_matrix(PLAYS), alpha=alpha, beta=beta, neighbours=neighbours, weighting=weighting
    )
    assert spy_paths[path] > 0 and spy_paths["dense" if path == "sparse" else "sparse"] == 0
    expected = _rp3beta_dense(PLAYS, alpha, beta, neighbours, weighting)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got.diagonal(), 0.0)
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-5, atol=1e-7)


def test_rp3beta_dense_path_in_several_blocks(monkeypatch, spy_paths):
    plays = PLAYS[:4]  # 4 listeners × 7 artists = 28 cells; 28 // 7 = 4 artists per block
    monkeypatch.setattr(rp3, "DENSE_CELLS", plays.size)
    monkeypatch.setattr(rp3, "DENSE_SHARE", 0.0)
    got = rp3.rp3beta_weights(
        sp.csr_matrix(plays), alpha=0.9, beta=0.4, neighbours=3, weighting="none"
    )
    assert spy_paths["dense"] == 2 and spy_paths["sparse"] == 0
    np.testing.assert_allclose(
        got.toarray(), _rp3beta_dense(plays, 0.9, 0.4, 3, "none"), rtol=1e-5, atol=1e-7
    )


def test_rp3beta_model_scores_a_listener_as_their_walk():
    model = rp3.fit_rp3beta(
        sp.csr_matrix(PLAYS), ARTISTS, alpha=0.8, beta=0.3, neighbours=4, weighting="none"
    )
    assert model.name == "rp3beta" and model.row_power == 0.8
    w = _rp3beta_dense(PLAYS, 0.8, 0.3, 4, "none")
    u = 3
    cols = np.flatnonzero(PLAYS[u])
    hist = model.history(np.zeros(len(cols), int), cols, PLAYS[u, cols], 1)
    p_u = np.power(PLAYS[u] / PLAYS[u].sum(), 0.8)
    np.testing.assert_allclose(model.scores(hist)[0], p_u @ w, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- item-kNN

# Two groups of listeners: 0-3 play artists 0-2, 4-7 play artists 3-5; artist 6 only listener 0.
KNN_PLAYS = np.zeros((8, 7))
KNN_PLAYS[np.ix_(range(4), range(3))] = np.arange(1, 13).reshape(4, 3)
KNN_PLAYS[np.ix_(range(4, 8), range(3, 6))] = np.arange(13, 25).reshape(4, 3)
KNN_PLAYS[1, 1] = 0  # not every pair equal
KNN_PLAYS[0, 6] = 5


@pytest.mark.parametrize("kind", ["cosine", "bm25", "tfidf"])
def test_itemknn_similarity_follows_co_listening(kind):
    model = fit_itemknn(
        sp.csr_matrix(KNN_PLAYS), ARTISTS, kind=kind, neighbours=50, weighting="log1p"
    )
    w = model.weights.toarray()
    co = (KNN_PLAYS > 0).T.astype(int) @ (KNN_PLAYS > 0).astype(int)
    np.fill_diagonal(co, 0)
    assert np.all(w[co > 0] > 0)
    assert np.all(w[co == 0] == 0)  # never-co-listened pairs and the diagonal
    np.testing.assert_array_equal(np.diag(w), 0.0)
    assert model.name == "itemknn" and model.weighting == "log1p"
    assert model.params["kind"] == kind
    assert ("bm25_k1" in model.params) == (kind == "bm25")
    # a listener of artist 0 only is recommended artists 1, 2 (its group) and 6, nothing else
    hist = model.history(np.array([0]), np.array([0]), np.array([4.0]), 1)
    s = model.scores(hist)[0]
    assert set(np.flatnonzero(s > 0)) == {1, 2, 6}


def test_itemknn_unknown_kind_raises():
    with pytest.raises(ValueError, match="kind"):
        fit_itemknn(
            sp.csr_matrix(KNN_PLAYS), ARTISTS, kind="jaccard", neighbours=5, weighting="none"
        )


def test_itemknn_keeps_neighbours_artists_per_row():
    rng = np.random.default_rng(4)
    plays = rng.integers(1, 9, size=(30, 12)) * (rng.random((30, 12)) < 0.6)
    model = fit_itemknn(
        sp.csr_matrix(plays.astype(float)),
        np.array([f"x{j:02d}" for j in range(12)], dtype=object),
        kind="cosine",
        neighbours=3,
        weighting="none",
    )
    # every artist is co-listened with all 11 others, so each keeps exactly 3 neighbours
    assert ((plays > 0).T.astype(int) @ (plays > 0).astype(int) > 0).all()
    np.testing.assert_array_equal(np.diff(model.weights.indptr), 3)


# ---------------------------------------------------------------- popularity


def test_popularity_order_listeners_then_plays_then_key(tmp_path):
    # listeners: a 2, b 3, c 3, d 2, e 2; plays: a 10, b 5, c 7, d 10, e 20
    plays = np.array(
        [
            [4, 1, 2, 0, 0],
            [6, 2, 3, 0, 12],
            [0, 2, 2, 7, 0],
            [0, 0, 0, 3, 8],
        ],
        dtype=np.float64,
    )
    model = fit_popularity(sp.csr_matrix(plays), np.array(list("abcde"), dtype=object))
    assert model.listeners.tolist() == [2, 3, 3, 2, 2]
    assert model.plays.tolist() == [10.0, 5.0, 7.0, 10.0, 20.0]
    assert model.artists[model.order].tolist() == ["c", "b", "e", "a", "d"]
    write_npz(model.to_npz("p__"), tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        back = PopularityModel.from_npz({k: data[k] for k in data.files}, "p__")
    assert back.artists[back.order].tolist() == ["c", "b", "e", "a", "d"]


# ---------------------------------------------------------------- a stage's generators

SETTINGS = {
    "als": ALSConfig(factors=4, iterations=2),
    "ease": EASEConfig(regularization=20.0, max_artists=25),
    "rp3beta": RP3betaConfig(neighbours=15),
    "itemknn": ItemKNNConfig(kind="cosine", neighbours=10),
    "popularity": None,
}


@pytest.fixture(scope="module")
def world_splits():
    return make_world(60, 40, 4, seed=1).splits


@pytest.fixture(scope="module")
def val_models(world_splits):
    fit = stage_data(world_splits, "val").fit
    return fit, fit_stage(fit, SETTINGS, 3, num_threads=1)


def test_fit_stage_fits_every_named_generator(val_models):
    fit, models = val_models
    assert models.names == ("als", "ease", "rp3beta", "itemknn", "popularity")
    assert isinstance(models.models["als"], ALSModel)
    assert isinstance(models.models["popularity"], PopularityModel)
    artists = sorted(fit["artist"].astype(str).unique())
    for g in ("rp3beta", "itemknn", "popularity"):
        assert np.asarray(models.models[g].artists, dtype=str).tolist() == artists
    ease = models.models["ease"]
    assert isinstance(ease, ItemItemModel) and ease.name == "ease" and len(ease.artists) == 25
    assert models.models["rp3beta"].params["neighbours"] == 15
    assert models.models["itemknn"].params["kind"] == "cosine"
    counts = fit.astype({"artist": str}).groupby("artist").size()
    np.testing.assert_array_equal(models.models["popularity"].listeners, counts.to_numpy())
    assert models.models["als"].factors == 4
    only = fit_stage(fit, SETTINGS, 3, names=("popularity", "ease"), num_threads=1)
    assert only.names == ("popularity", "ease")


def _all_scores(models, fit):
    """Scores of every generator for the first listeners of ``fit`` (comparable arrays)."""
    out = {}
    users = np.unique(fit["user"].astype(str))[:10]
    rows = fit[fit["user"].astype(str).isin(users)]
    r = pd.Index(users).get_indexer(rows["user"].astype(str))
    for g, m in models.models.items():
        if isinstance(m, ALSModel):
            out[g] = score(m, m.user_factors[m.user_index(users)])
        elif isinstance(m, ItemItemModel):
            cols = pd.Index(np.asarray(m.artists, dtype=str)).get_indexer(
                rows["artist"].astype(str)
            )
            hist = m.history(r, cols, rows["plays"].to_numpy(float), len(users))
            out[g] = m.scores(hist)
        else:
            out[g] = np.stack([m.listeners, m.plays, m.order])
    return out


def test_stage_models_npz_round_trip_preserves_scores(tmp_path, val_models):
    fit, models = val_models
    arrays = models.to_npz("val__")
    assert all(k.startswith("val__") for k in arrays)
    write_npz(arrays, tmp_path / "stage.npz")
    with np.load(tmp_path / "stage.npz", allow_pickle=False) as data:
        loaded = {k: data[k] for k in data.files}
    assert not [k for k, v in loaded.items() if v.dtype == object]
    back = StageModels.from_npz(loaded, "val__")
    assert back.names == models.names
    before, after = _all_scores(models, fit), _all_scores(back, fit)
    for g in models.names:
        np.testing.assert_array_equal(after[g], before[g], err_msg=g)
        assert (
            np.asarray(back.models[g].artists, dtype=str).tolist()
            == np.asarray(models.models[g].artists, dtype=str).tolist()
        )
    for g in ("ease", "rp3beta", "itemknn"):
        assert back.models[g].params == models.models[g].params
        assert back.models[g].row_power == models.models[g].row_power


def test_stages_npz_round_trip(tmp_path, world_splits, val_models):
    fit_val, val = val_models
    fit_test = stage_data(world_splits, "test", validate=False).fit
    test = fit_stage(fit_test, SETTINGS, 3, names=("ease", "popularity"), num_threads=1)
    arrays = stages_to_npz({"val": val, "test": test})
    write_npz(arrays, tmp_path / "stages.npz")
    with np.load(tmp_path / "stages.npz", allow_pickle=False) as data:
        loaded = {k: data[k] for k in data.files}
    back = stages_from_npz(loaded)
    assert list(back) == ["val", "test"]
    assert back["test"].names == ("ease", "popularity")
    assert back["val"].names == val.names
    for stage, fit, original in (("val", fit_val, val), ("test", fit_test, test)):
        before, after = _all_scores(original, fit), _all_scores(back[stage], fit)
        for g in original.names:
            np.testing.assert_array_equal(after[g], before[g], err_msg=f"{stage} {g}")
    # the stages really differ (test fits on train + val)
    assert len(back["test"].models["popularity"].plays) >= len(
        back["val"].models["popularity"].plays
    )
    assert (
        back["test"].models["popularity"].plays.sum() > back["val"].models["popularity"].plays.sum()
    )
