"""Per-listener hold-out split (design §3), temporal when the log has timestamps, random otherwise.

For every listener with at least ``min_artists`` artists, the last ``test`` share of their artists
(by first play, or by a seeded shuffle) is test and the ``val`` share before it is validation; at
least one artist goes to each. Listeners with less history stay in train only, so every listener
keeps some training signal and no artist of a listener is in two splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def choose_split_method(method: str, plays: pd.DataFrame) -> str:
    """`auto` means temporal when every pair has a first-play time, random otherwise."""
    if method != "auto":
        return method
    has_time = "first_played" in plays and len(plays) and plays["first_played"].notna().all()
    return "temporal" if has_time else "random"


def split_interactions(
    plays: pd.DataFrame,
    *,
    method: str = "auto",
    val: float = 0.1,
    test: float = 0.2,
    min_artists: int = 5,
    seed: int = 42,
) -> tuple[pd.DataFrame, str]:
    """Add a ``split`` column (train/val/test) to listener × artist plays; return (table, method)."""
    if not 0 <= val < 1 or not 0 < test < 1 or val + test >= 1:
        raise ValueError(
            f"split shares must satisfy 0 <= val, 0 < test, val + test < 1 (got {val}, {test})"
        )
    method = choose_split_method(method, plays)
    if method == "temporal" and plays["first_played"].isna().any():
        raise ValueError("temporal split needs first_played for every listener-artist pair")
    rng = np.random.default_rng(seed)
    df = plays.reset_index(drop=True).copy()
    if method == "temporal":
        order = ["user", "first_played", "artist"]
    else:
        df["_key"] = rng.permutation(len(df))
        order = ["user", "_key"]
    df = df.sort_values(order, kind="stable").reset_index(drop=True)

    n = df.groupby("user", sort=False)["artist"].transform("size").to_numpy()
    pos_from_end = n - 1 - df.groupby("user", sort=False).cumcount().to_numpy()
    n_test = np.maximum(1, np.rint(n * test)).astype(int)
    n_val = np.where(val > 0, np.maximum(1, np.rint(n * val)), 0).astype(int)
    eligible = n >= min_artists
    split = np.full(len(df), "train", dtype=object)
    split[eligible & (pos_from_end < n_test)] = "test"
    split[eligible & (pos_from_end >= n_test) & (pos_from_end < n_test + n_val)] = "val"
    df["split"] = split
    df = df.drop(columns=["_key"], errors="ignore")
    cols = ["user", "artist", "plays", "split", "first_played", "last_played"]
    rest = [c for c in df.columns if c not in cols]
    return df.sort_values(["user", "artist"]).reset_index(drop=True)[cols + rest], method
