"""Design §3 stages, and leakage: nothing fitted before the evaluation depends on the test split."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.errors import InputError
from musicrec_assets.core.evaluation.protocol import (
    FIT_SPLITS,
    fold_count,
    stage_data,
    validation_folds,
)
from musicrec_assets.core.ids import as_sorted_categorical
from musicrec_assets.core.model.features import stage_rows
from musicrec_assets.core.model.reranker import booster_to_text
from musicrec_assets_tests.model_data import make_world, run_pipeline


@pytest.fixture(scope="module")
def world():
    return make_world(160, 120, 6, seed=21)


def _pairs(df):
    return set(zip(df["user"].astype(str), df["artist"].astype(str), strict=True))


def test_stage_fit_rows_targets_and_labels(world):
    s = world.splits
    by = {name: s[s["split"] == name] for name in ("train", "val", "test")}
    val, test, serve = (stage_data(s, st) for st in ("val", "test", "serve"))
    assert _pairs(val.fit) == _pairs(by["train"])
    assert _pairs(test.fit) == _pairs(by["train"]) | _pairs(by["val"])
    assert _pairs(serve.fit) == _pairs(s)
    assert _pairs(val.seen) == _pairs(val.fit)
    assert list(val.target_users) == sorted(set(by["val"]["user"]))
    assert list(test.target_users) == sorted(set(by["test"]["user"]))
    assert list(serve.target_users) == sorted(set(s["user"]))
    assert _pairs(val.labels) == _pairs(by["val"])
    assert test.labels is None and serve.labels is None  # test labels only on request
    test_l = stage_data(s, "test", with_labels=True).labels
    assert _pairs(test_l) == _pairs(by["test"])
    for st in ("val", "test"):
        assert not _pairs(stage_data(s, st).fit) & _pairs(by["test"])
    assert not _pairs(val.fit) & _pairs(val.labels)
    assert FIT_SPLITS["test"] == ("train", "val")


def test_bad_split_tables_are_input_errors(world):
    s = world.splits.astype({"split": str})  # as a split table written by another tool
    s.loc[3, "split"] = "holdout"
    with pytest.raises(InputError, match="row 5"):
        stage_data(s, "val")
    dup = pd.concat([world.splits, world.splits.iloc[:1].assign(split="test")], ignore_index=True)
    with pytest.raises(InputError, match="two splits"):
        stage_data(dup, "val")
    with pytest.raises(InputError, match="missing column"):
        stage_data(world.splits.drop(columns="plays"), "val")


def _mutate_test_rows(splits):
    """Change every test row (plays and artist) but keep the listeners that have test rows."""
    s = splits.astype({"artist": str})
    is_test = (s["split"] == "test").to_numpy()
    s.loc[is_test, "plays"] = s.loc[is_test, "plays"] * 7 + 3
    s.loc[is_test, "artist"] = [f"Leak {i}" for i in range(int(is_test.sum()))]
    # Encoded as split_interactions writes it: the leaked names join the sorted vocabulary.
    s["artist"] = as_sorted_categorical(s["artist"])
    return s


def _values(df):
    """Compare values, not categorical vocabularies (those are unions over all stages)."""
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    return df.astype({c: str for c in cats}).reset_index(drop=True)


@pytest.fixture(scope="module")
def runs(world):
    mutated = make_world(160, 120, 6, seed=21)
    mutated.splits = _mutate_test_rows(world.splits)
    return run_pipeline(world), run_pipeline(mutated)


def test_artefacts_before_evaluation_ignore_the_test_split(runs):
    a, b = runs
    assert a["selection"] == b["selection"]  # the search reads validation only
    for stage in ("val", "test"):
        for name in a["models"][stage].names:
            arrays_a = a["models"][stage].models[name].to_npz("x")
            arrays_b = b["models"][stage].models[name].to_npz("x")
            assert arrays_a.keys() == arrays_b.keys()
            for key, value in arrays_a.items():
                np.testing.assert_array_equal(value, arrays_b[key], err_msg=f"{stage} {name} {key}")
        for table in ("user_profiles", "item_features"):
            pd.testing.assert_frame_equal(
                _values(stage_rows(a[table], stage)), _values(stage_rows(b[table], stage))
            )
    pd.testing.assert_frame_equal(_values(a["candidates"]), _values(b["candidates"]))
    pd.testing.assert_frame_equal(_values(a["dataset"]), _values(b["dataset"]))
    assert booster_to_text(a["booster"]) == booster_to_text(b["booster"])
    assert a["choice"] == b["choice"]
    assert a["candidate_info"]["val_fold1"]["recall"] == b["candidate_info"]["val_fold1"]["recall"]
    # sanity: the mutation is visible where it is allowed to be (serve stage, evaluation)
    serve_a, serve_b = a["models"]["serve"].models["als"], b["models"]["serve"].models["als"]
    assert len(serve_a.artists) != len(serve_b.artists)
    assert a["report"]["systems"] != b["report"]["systems"]


def test_rerank_dataset_is_validation_only(runs):
    a, _ = runs
    assert "stage" not in a["dataset"] and a["dataset"]["fold"].nunique() == 3
    assert isinstance(a["booster"], lgb.Booster)


def test_validation_folds_are_disjoint_sized_like_validation_and_never_touch_test(world):
    folds = validation_folds(world.splits, 4, seed=3)
    val = stage_data(world.splits, "val")
    assert folds[0].labels.equals(val.labels) and folds[0].fit.equals(val.fit)
    test = world.splits[world.splits["split"] == "test"][["user", "artist"]].astype(str)
    key = lambda df: set(zip(df["user"].astype(str), df["artist"].astype(str), strict=True))  # noqa: E731
    seen_labels = set()
    n_val = val.labels.groupby("user").size()
    for fold in folds:
        labels, fit = key(fold.labels), key(fold.fit)
        assert not labels & fit  # a fold never fits on what it labels
        assert not labels & seen_labels  # the held-out parts are disjoint
        assert not (labels | fit) & key(test)  # and the test split is never used
        assert len(labels | fit) == len(key(val.fit)) + len(key(val.labels))
        per_user = fold.labels.groupby("user").size()
        assert (per_user == n_val[per_user.index]).all()  # as many as validation holds out
        seen_labels |= labels
    again = validation_folds(world.splits.sample(frac=1.0, random_state=1), 4, seed=3)
    for x, y in zip(folds[1:], again[1:], strict=True):
        assert key(x.labels) == key(y.labels)


def test_fold_count_reaches_enough_listeners_or_stops_at_the_maximum():
    assert fold_count(4, 946, 20_000) == 4
    assert fold_count(4, 50_000, 20_000) == 1
    assert fold_count(4, 8_000, 20_000) == 3
    assert fold_count(4, 0, 20_000) == 1
