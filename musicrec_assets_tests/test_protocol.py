"""Design §3 stages, and leakage: nothing fitted before the evaluation depends on the test split."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.errors import InputError
from musicrec_assets.core.ids import as_sorted_categorical
from musicrec_assets.core.protocol import FIT_SPLITS, stage_data
from musicrec_assets.core.recommend import _stage
from musicrec_assets.core.rerank import booster_to_text
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
    for stage in ("val", "test"):
        np.testing.assert_array_equal(
            a["models"][stage].item_factors, b["models"][stage].item_factors
        )
        np.testing.assert_array_equal(
            a["models"][stage].user_factors, b["models"][stage].user_factors
        )
        for table in ("candidates", "user_profiles", "item_features"):
            pd.testing.assert_frame_equal(
                _values(_stage(a[table], stage)), _values(_stage(b[table], stage))
            )
    pd.testing.assert_frame_equal(_values(a["dataset"]), _values(b["dataset"]))
    assert booster_to_text(a["booster"]) == booster_to_text(b["booster"])
    assert a["choice"] == b["choice"]
    assert a["candidate_info"]["val"]["recall"] == b["candidate_info"]["val"]["recall"]
    # sanity: the mutation is visible where it is allowed to be (serve stage, evaluation)
    assert len(a["models"]["serve"].artists) != len(b["models"]["serve"].artists)
    assert a["report"]["systems"] != b["report"]["systems"]


def test_rerank_dataset_is_validation_only(runs):
    a, _ = runs
    assert set(a["dataset"]["stage"]) == {"val"}
    assert isinstance(a["booster"], lgb.Booster)
