"""model_selection: a seeded search on validation that starts from the configured values, keeps
fixed keys fixed, respects its time cap and reads nothing but the validation labels."""

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.config import ALSConfig, EASEConfig, TuningConfig
from musicrec_assets.core.evaluation.protocol import stage_data
from musicrec_assets.core.model.selection import search_models
from musicrec_assets_tests.model_data import make_world

K = 10
SETTINGS = {
    "als": ALSConfig(factors=8, iterations=3),
    "ease": EASEConfig(regularization=50.0, max_artists=1000),
}
FIXED = {"als": {"factors": 8}}
CFG = TuningConfig(seconds=1e6, trials={"als": 4, "ease": 3})
CONFIGURED = {
    "als": {
        "factors": 8,
        "weighting": "log1p",
        "regularization": 10.0,
        "alpha": 0.5,
        "iterations": 3,
    },
    "ease": {"regularization": 50.0, "weighting": "binary"},
}


@pytest.fixture(scope="module")
def splits():
    return make_world(80, 60, 5, seed=3).splits


@pytest.fixture(scope="module")
def val(splits):
    return stage_data(splits, "val")


@pytest.fixture(scope="module")
def selection(val):
    return search_models(val, SETTINGS, FIXED, CFG, K, 7, num_threads=1)[0]


def _trials(selection, name):
    return [t for t in selection["trials"] if t["generator"] == name]


def _hand_ease_ndcg(val, regularization, k):
    """NDCG@k of EASE (binary plays, closed form in float64) over the validation listeners."""
    fit = val.fit.astype({"user": str, "artist": str})
    users = np.unique(fit["user"])
    artists = np.unique(fit["artist"])
    x = np.zeros((len(users), len(artists)))
    x[np.searchsorted(users, fit["user"]), np.searchsorted(artists, fit["artist"])] = 1.0
    p = np.linalg.inv(x.T @ x + regularization * np.eye(len(artists)))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    labels = val.labels.astype({"user": str, "artist": str})
    ndcg = []
    for user, rel in labels.groupby("user")["artist"]:
        row = x[np.searchsorted(users, user)] if user in set(users) else np.zeros(len(artists))
        s = np.where(row > 0, -np.inf, row @ b)
        order = [j for j in np.lexsort((np.arange(len(s)), -s)) if np.isfinite(s[j])][:k]
        hits = np.isin(artists[order], rel.to_numpy())
        dcg = (hits / np.log2(np.arange(2, len(order) + 2))).sum()
        idcg = (1.0 / np.log2(np.arange(2, min(k, len(rel)) + 2))).sum()
        ndcg.append(dcg / idcg)
    return float(np.mean(ndcg))


def test_deterministic_for_a_seed(val, selection):
    again, seconds = search_models(val, SETTINGS, FIXED, CFG, K, 7, num_threads=1)
    assert again == selection
    assert set(seconds) == {"als", "ease", "total"}
    other = search_models(val, SETTINGS, FIXED, CFG, K, 8, num_threads=1)[0]
    assert [t["params"] for t in other["trials"]] != [t["params"] for t in selection["trials"]]


def test_configured_values_are_trial_zero_and_never_beaten_by_the_choice(val, selection):
    assert selection["k"] == K and selection["validation_listeners"] == len(val.target_users)
    for name in ("als", "ease"):
        trials = _trials(selection, name)
        summary = selection["generators"][name]
        assert len(trials) == CFG.trials[name] == summary["trials"]
        assert summary["stopped"] == "trials"
        assert trials[0]["trial"] == 0 and trials[0]["params"] == CONFIGURED[name]
        assert summary["configured_val_ndcg"] == trials[0]["ndcg"]
        best = max(trials, key=lambda t: (t["ndcg"], -t["trial"]))
        assert summary["val_ndcg"] == best["ndcg"] >= summary["configured_val_ndcg"]
        assert summary["best_trial"] == best["trial"]
        assert selection["chosen"][name] == summary["params"] == best["params"]
        assert len({repr(sorted(t["params"].items())) for t in trials}) == len(trials)
    # the score of the configured EASE, recomputed by hand on the validation labels
    assert selection["generators"]["ease"]["configured_val_ndcg"] == pytest.approx(
        _hand_ease_ndcg(val, 50.0, K), abs=1e-6
    )


def test_fixed_keys_are_never_varied(val):
    fixed = {"als": {"factors": 8, "warm_start": False}, "ease": {"weighting": "log1p"}}
    cfg = TuningConfig(seconds=1e6, trials={"als": 5, "ease": 4})
    selection = search_models(val, SETTINGS, fixed, cfg, K, 3, num_threads=1)[0]
    als, ease = _trials(selection, "als"), _trials(selection, "ease")
    assert len(als) == 5 and len(ease) == 4
    assert all(t["params"]["factors"] == 8 for t in als)
    assert all("warm_start" not in t["params"] for t in als)  # not a searched parameter
    assert all(t["params"]["weighting"] == "log1p" for t in ease)
    assert len({t["params"]["regularization"] for t in als}) == 5  # the rest is searched
    assert len({t["params"]["regularization"] for t in ease}) == 4
    assert selection["chosen"]["als"]["factors"] == 8
    assert selection["chosen"]["ease"]["weighting"] == "log1p"
    assert selection["generators"]["als"]["fixed"] == ["factors"]
    assert selection["generators"]["ease"]["fixed"] == ["weighting"]
    # the first trial is the configuration with the fixed values in it
    assert ease[0]["params"] == {"regularization": 50.0, "weighting": "log1p"}


def test_disabled_search_scores_only_the_configured_values(val):
    cfg = TuningConfig(enabled=False, seconds=1e6, trials={"als": 5, "ease": 5})
    selection = search_models(val, SETTINGS, FIXED, cfg, K, 7, num_threads=1)[0]
    assert selection["enabled"] is False
    for name in ("als", "ease"):
        trials = _trials(selection, name)
        assert len(trials) == 1 and trials[0]["params"] == CONFIGURED[name]
        summary = selection["generators"][name]
        assert summary["trials"] == 1 and summary["budget_trials"] == 0
        assert summary["stopped"] == "trials"
        assert selection["chosen"][name] == CONFIGURED[name]
        assert summary["val_ndcg"] == summary["configured_val_ndcg"]


def test_time_cap_cuts_a_study_short(val):
    # A clock that moves a second per reading: the study's share (under two seconds) is spent
    # by the configured trial, so the search stops there.
    ticks = itertools.count()
    cfg = TuningConfig(seconds=1.5, trials={"ease": 4})
    selection, _ = search_models(
        val, {"ease": SETTINGS["ease"]}, {}, cfg, K, 7, num_threads=1, clock=lambda: next(ticks)
    )
    summary = selection["generators"]["ease"]
    assert summary["stopped"] == "time"
    assert summary["trials"] == 1 < summary["budget_trials"] == 4
    assert _trials(selection, "ease")[0]["params"] == CONFIGURED["ease"]
    assert selection["chosen"]["ease"] == CONFIGURED["ease"]


def test_time_cap_exhausted_still_scores_the_configured_values(val):
    ticks = iter(range(0, 10**9, 1000))  # every reading is 1000 s after the previous one

    def clock():
        return float(next(ticks))

    cfg = TuningConfig(seconds=10.0, trials={"als": 3, "ease": 3})
    selection, _ = search_models(val, SETTINGS, FIXED, cfg, K, 7, num_threads=1, clock=clock)
    for name in ("als", "ease"):
        summary = selection["generators"][name]
        assert summary["stopped"] == "time"
        assert summary["trials"] >= 1
        assert _trials(selection, name)[0]["params"] == CONFIGURED[name]


def test_only_validation_labels_are_read(splits, val, selection):
    no_test = splits[(splits["split"] != "test").to_numpy()].reset_index(drop=True)
    val_only = stage_data(no_test, "val")
    assert val_only.labels is not None and len(val_only.labels) == len(val.labels)
    assert search_models(val_only, SETTINGS, FIXED, CFG, K, 7, num_threads=1)[0] == selection
    # the validation labels are what the trials are scored on: other labels, other scores
    labels = val.labels.astype({"user": str, "artist": str})
    fit = val.fit.astype({"user": str, "artist": str})
    unseen = fit.groupby("artist").size().sort_values().index[:3]  # least played artists
    fake = pd.DataFrame(
        [(u, a) for u in labels["user"].unique() for a in unseen], columns=["user", "artist"]
    )
    fake = fake.merge(fit, on=["user", "artist"], how="left", indicator=True)
    fake = fake.loc[fake["_merge"] == "left_only", ["user", "artist"]]
    other = dataclasses.replace(val, labels=fake.reset_index(drop=True))
    changed = search_models(other, SETTINGS, FIXED, CFG, K, 7, num_threads=1)[0]
    assert [t["ndcg"] for t in changed["trials"]] != [t["ndcg"] for t in selection["trials"]]
