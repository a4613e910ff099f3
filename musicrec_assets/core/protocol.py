"""The evaluation protocol of design §3 as data: which interactions each model stage may see.

A stage is fitted on a fixed set of splits (``FIT_SPLITS``) and never on anything else; labels
are a separate split that is by construction disjoint from the fit rows. The test labels are only
handed out when asked for explicitly (``with_labels=True``), which only the evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .ids import factorize_sorted
from .schema import SPLITS

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
