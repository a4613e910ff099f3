"""Per-listener hold-out split, temporal when the log has timestamps, random otherwise
(docs/architecture.md, Evaluation protocol).

For every listener with at least ``min_artists`` artists, the last ``test`` share of their artists
(by first play, or by a seeded shuffle) is test and the ``val`` share before it is validation; at
least one artist goes to each. Listeners with less history stay in train only, so every listener
keeps some training signal and no artist of a listener is in two splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ids import factorize_sorted
from .schema import SPLITS


def choose_split_method(method: str, plays: pd.DataFrame) -> str:
    """`auto` means temporal when every pair has a first-play time, random otherwise."""
    if method != "auto":
        return method
    has_time = "first_played" in plays and len(plays) and plays["first_played"].notna().all()
    return "temporal" if has_time else "random"


def shuffle_keys(n_rows: int, seed: int) -> np.ndarray:
    """The random method's order keys: row ``i`` of the plays table (in its given order) sorts
    by ``keys[i]`` among its listener's rows. One global permutation, so another engine that
    numbers the rows the same way reproduces the split exactly."""
    return np.random.default_rng(seed).permutation(n_rows)


def split_codes(
    n_artists: np.ndarray,
    pos_from_end: np.ndarray,
    *,
    val: float = 0.1,
    test: float = 0.2,
    min_artists: int = 5,
) -> np.ndarray:
    """Codes of ``SPLITS`` (train, val, test) per row from its listener's artist count and its
    0-based position from the end of the listener's order: the one statement of the share rule
    (rounded half to even, at least one artist each), shared by every engine."""
    n = np.asarray(n_artists, dtype=np.int64)
    pos = np.asarray(pos_from_end, dtype=np.int64)
    n_test = np.maximum(1, np.rint(n * test)).astype(int)
    n_val = np.where(val > 0, np.maximum(1, np.rint(n * val)), 0).astype(int)
    eligible = n >= min_artists
    split = np.zeros(len(n), dtype=np.int8)
    split[eligible & (pos < n_test)] = SPLITS.index("test")
    split[eligible & (pos >= n_test) & (pos < n_test + n_val)] = SPLITS.index("val")
    return split


def check_shares(val: float, test: float) -> None:
    """Split shares every engine accepts: 0 <= val, 0 < test, val + test < 1."""
    if not 0 <= val < 1 or not 0 < test < 1 or val + test >= 1:
        raise ValueError(
            f"split shares must satisfy 0 <= val, 0 < test, val + test < 1 (got {val}, {test})"
        )


def split_interactions(
    plays: pd.DataFrame,
    *,
    method: str = "auto",
    val: float = 0.1,
    test: float = 0.2,
    min_artists: int = 5,
    seed: int = 42,
) -> tuple[pd.DataFrame, str]:
    """Add a ``split`` column (train/val/test) to listener × artist plays; return (table, method).

    ``user``, ``artist`` and ``split`` come back as categoricals (sorted keys), rows sorted by
    user then artist; downstream stages take integer codes from them (``ids``).
    """
    check_shares(val, test)
    method = choose_split_method(method, plays)
    if method == "temporal" and plays["first_played"].isna().any():
        raise ValueError("temporal split needs first_played for every listener-artist pair")
    df = plays.reset_index(drop=True)
    u, users = factorize_sorted(df["user"])
    a, artists = factorize_sorted(df["artist"])
    # Codes sort like the keys, so integer sorts give the string order without touching strings.
    if method == "temporal":
        order = np.lexsort((a, df["first_played"].to_numpy(), u))
    else:
        order = np.lexsort((shuffle_keys(len(df), seed), u))
    us = u[order]
    n_user = np.bincount(us, minlength=len(users))
    n = n_user[us]
    pos_from_end = np.empty(len(df), dtype=np.int64)
    pos_from_end[order] = n - 1 - (np.arange(len(us)) - (np.cumsum(n_user) - n_user)[us])
    split = split_codes(n_user[u], pos_from_end, val=val, test=test, min_artists=min_artists)
    final = np.lexsort((a, u))
    out = df.iloc[final].reset_index(drop=True)
    out["user"] = pd.Categorical.from_codes(u[final], categories=pd.Index(users, dtype=object))
    out["artist"] = pd.Categorical.from_codes(a[final], categories=pd.Index(artists, dtype=object))
    out["split"] = pd.Categorical.from_codes(split[final], categories=list(SPLITS))
    cols = ["user", "artist", "plays", "split", "first_played", "last_played"]
    rest = [c for c in out.columns if c not in cols]
    for c in rest:  # per-artist text (spotify_id) repeats 17.5M times at scale: dictionary-encode
        if pd.api.types.is_string_dtype(out[c]) or out[c].dtype == object:
            out[c] = out[c].astype("category")
    return out[cols + rest], method
