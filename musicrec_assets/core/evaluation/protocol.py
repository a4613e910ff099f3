"""The evaluation protocol (docs/architecture.md) as data: which interactions each model stage may see.

A stage is fitted on a fixed set of splits (``FIT_SPLITS``) and never on anything else; labels
are a separate split that is by construction disjoint from the fit rows. The test labels are only
handed out when asked for explicitly (``with_labels=True``), which only the evaluation does.
Listeners are drawn, held out and dealt into groups here too, always seeded and from the sorted
keys, so a split depends only on the set of listeners and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..ids import factorize_sorted
from ..schema import SPLITS

STAGES: tuple[str, ...] = ("val", "test", "serve")

# Splits each stage is fitted on (models, features, seen items) and the split that labels it.
FIT_SPLITS: dict[str, tuple[str, ...]] = {
    "val": ("train",),
    "test": ("train", "val"),
    "serve": ("train", "val", "test"),
}
LABEL_SPLIT: dict[str, str | None] = {"val": "val", "test": "test", "serve": None}

SPLIT_COLUMNS: tuple[str, ...] = ("user", "artist", "plays", "split")


@dataclass(frozen=True)
class StageData:
    """One stage's view of the splits: fit rows, the users to rank for, and (maybe) labels."""

    stage: str
    fit: pd.DataFrame  # user, artist, plays (+ first_played / last_played when present)
    target_users: np.ndarray  # sorted unique listener keys
    labels: pd.DataFrame | None  # user, artist; None for serve or when not requested

    @property
    def seen(self) -> pd.DataFrame:
        """Pairs removed from recommendations: exactly the fit pairs (with plays for fold-in)."""
        return self.fit[["user", "artist", "plays"]]


def validate_splits(splits: pd.DataFrame, path: str = "interaction_splits") -> None:
    """Raise InputError when the split table breaks its contract (columns, values, duplicates)."""
    missing = [c for c in SPLIT_COLUMNS if c not in splits.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", column=missing[0])
    bad = ~splits["split"].isin(SPLITS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            path,
            f"split {splits['split'].iloc[row]!r} is not one of {SPLITS}",
            column="split",
            row=row + 2,
        )
    nonpos = ~(splits["plays"] > 0)
    if nonpos.any():
        row = int(np.flatnonzero(nonpos.to_numpy())[0])
        raise InputError(path, "plays must be > 0", column="plays", row=row + 2)
    dup = pair_keys(splits).duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            path,
            "a listener-artist pair appears twice (it would sit in two splits)",
            column="artist",
            row=row + 2,
        )


def pair_keys(df: pd.DataFrame) -> pd.Series:
    """One int64 per (user, artist) pair, equal iff the keys are equal (hashing ints, not strings)."""
    u, _ = factorize_sorted(df["user"])
    a, artists = factorize_sorted(df["artist"])
    return pd.Series(u * np.int64(max(len(artists), 1)) + a)


def target_users(splits: pd.DataFrame, mask: np.ndarray | None = None) -> np.ndarray:
    """Sorted distinct listener keys (of the rows in ``mask``)."""
    users = splits["user"] if mask is None else splits.loc[mask, "user"]
    return factorize_sorted(users)[1]


def sample_users(users: np.ndarray, max_users: int | None, seed: int) -> np.ndarray:
    """A seeded sample of at most ``max_users`` of the sorted ``users`` (all when fewer or
    ``max_users`` is 0/None), still sorted: the same call gives the same listeners anywhere."""
    if not max_users or len(users) <= max_users:
        return users
    pick = np.random.default_rng(seed).choice(len(users), max_users, replace=False)
    return users[np.sort(pick)]


def stage_data(
    splits: pd.DataFrame,
    stage: str,
    *,
    with_labels: bool | None = None,
    validate: bool = True,
) -> StageData:
    """Cut ``interaction_splits`` into one stage's fit rows, target users and labels.

    ``with_labels`` defaults to True for the validation stage and False for test, so test labels
    are only materialised by the one caller that asks for them (the evaluation). The fit rows are
    selected by split name from ``FIT_SPLITS``; label rows come from another split, so a label pair
    can never be a fit pair (pairs are unique, checked by ``validate_splits``). Callers inside
    the graph pass ``validate=False``: the blocking ``interaction_splits_valid`` check has
    already validated the table (validating 17.5M rows on every call cost minutes).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    if validate:
        validate_splits(splits)
    keep = [c for c in ("user", "artist", "plays", "first_played", "last_played") if c in splits]
    fit = splits.loc[splits["split"].isin(FIT_SPLITS[stage]), keep].reset_index(drop=True)
    label_split = LABEL_SPLIT[stage]
    if label_split is None:
        return StageData(stage, fit, target_users(splits), None)
    is_label = (splits["split"] == label_split).to_numpy()
    users = target_users(splits, is_label)
    if with_labels is None:
        with_labels = stage == "val"
    labels = (
        splits.loc[is_label, ["user", "artist"]].reset_index(drop=True) if with_labels else None
    )
    return StageData(stage, fit, users, labels)


def fold_count(max_folds: int, listeners: int, fold_listeners: int) -> int:
    """Validation folds to use: enough that listeners × folds reaches ``fold_listeners`` (the
    reranker then sees enough listeners), never more than ``max_folds``; one on large data."""
    if listeners <= 0:
        return 1
    return int(max(1, min(max_folds, -(-fold_listeners // listeners))))


def validation_folds(
    splits: pd.DataFrame, n_folds: int, seed: int, users: np.ndarray | None = None
) -> list[StageData]:
    """Fold 0 is the validation stage; fold f >= 1 holds out another part of each validation
    listener's *train* artists, as many as their validation artists, disjoint from every other
    fold, and fits on the rest of train + validation.

    So every fold fits on as many rows as the validation stage and labels as many, and no fold
    touches the test split. The parts are drawn with one seeded shuffle of each listener's train
    artists; a listener with too few train artists for a fold is not in that fold. ``users``
    (sorted) restricts the folds' listeners (the reranker's sample), as for fold 0.
    """
    val = stage_data(splits, "val", validate=False)
    if users is not None:
        val = StageData("val", val.fit, users, val.labels[val.labels["user"].isin(users)])
    folds = [val]
    if n_folds <= 1:
        return folds
    keep = [c for c in ("user", "artist", "plays", "first_played", "last_played") if c in splits]
    rows = splits.loc[splits["split"].isin(FIT_SPLITS["test"]), [*keep, "split"]]
    u, vocab = factorize_sorted(rows["user"])
    order = np.lexsort((factorize_sorted(rows["artist"])[0], u))  # the draw follows the keys,
    rows, u = rows.iloc[order].reset_index(drop=True), u[order]  # not the table's row order
    target = np.zeros(len(vocab), dtype=bool)
    target[pd.Index(vocab).get_indexer(val.target_users)] = True
    is_val = (rows["split"] == "val").to_numpy()
    n_val = np.bincount(u[is_val], minlength=len(vocab))
    train = ~is_val & target[u]
    n_train = np.bincount(u[train], minlength=len(vocab))
    key = np.random.default_rng(seed).random(len(rows))
    idx = np.flatnonzero(train)
    idx = idx[np.lexsort((key[idx], u[idx]))]
    starts = np.r_[0, np.cumsum(np.bincount(u[idx], minlength=len(vocab)))[:-1]]
    block = (np.arange(len(idx)) - starts[u[idx]]) // np.maximum(n_val[u[idx]], 1)
    whole = (block + 1) * n_val[u[idx]] <= n_train[u[idx]]
    fold = np.zeros(len(rows), dtype=np.int64)
    fold[idx] = np.where(whole & (block < n_folds - 1), block + 1, 0)
    for f in range(1, n_folds):
        held = fold == f
        labels = rows.loc[held, ["user", "artist"]].reset_index(drop=True)
        fit = rows.loc[~held, keep].reset_index(drop=True)
        folds.append(StageData(f"fold{f}", fit, target_users(rows, held), labels))
    return folds


def split_listeners(users: Any, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) listeners: a seeded share ``fraction`` held out, at least one each side
    when there are two or more listeners. Sorted, so the split depends only on the set and seed.
    """
    users = np.unique(np.asarray(users).astype(str))
    n_out = round(len(users) * fraction)
    if len(users) >= 2:
        n_out = min(max(n_out, 1), len(users) - 1)
    perm = np.random.default_rng(seed).permutation(len(users))
    held = np.zeros(len(users), dtype=bool)
    held[perm[:n_out]] = True
    return users[~held], users[held]


def listener_groups(users: Any, n_groups: int, seed: int) -> pd.Series:
    """Each listener's cross-fit group (0..n_groups-1): a seeded shuffle dealt round-robin."""
    users = np.unique(np.asarray(users).astype(str))
    perm = np.random.default_rng(seed).permutation(len(users))
    group = np.empty(len(users), dtype=np.int64)
    group[perm] = np.arange(len(users)) % n_groups
    return pd.Series(group, index=pd.Index(users))
