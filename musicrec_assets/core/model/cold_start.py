"""Recommendations for a listener the model has never seen (the web page's new listener).

The batch path with a one-row history under a placeholder key, ``NEW_LISTENER_KEY``: the same
generators, features and ``serve.rank_candidates`` as ``reranked_topk``.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from .features import user_profiles
from .generators.stages import StageModels
from .rerank_dataset import prepare_tables
from .serve import rank_candidates
from .topn import collect_candidates, iter_candidates

NEW_LISTENER_KEY = "__new_listener__"


def _seed_plays(seed_artists: dict[str, float] | list[str] | pd.Series) -> pd.Series:
    if isinstance(seed_artists, dict | pd.Series):
        s = pd.Series(seed_artists, dtype=np.float64)
    else:
        s = pd.Series(1.0, index=pd.Index(list(seed_artists), dtype=object))
    s.index = s.index.astype(str)
    s = s[s > 0]
    return s.groupby(level=0).sum()


def recommend_new_listener(
    seed_artists: dict[str, float] | list[str],
    models: StageModels,
    booster: lgb.Booster | None,
    item_features: pd.DataFrame,
    choice: dict[str, Any],
    n: int,
    *,
    num_threads: int = 1,
) -> pd.DataFrame:
    """Recommendations for someone not in the data, from a few artists (and plays if known).

    The batch path with a one-row history: every serve-stage generator proposes candidates
    (ALS folds the listener in with implicit's ``recalculate_user``; the item-item models score
    the history row), the seeds are removed, a profile is built from the seed artists, and the
    candidates are ranked like any listener's (``rank_candidates``, the served choice).
    ``item_features`` is the serve stage's table. Returns ``rank, artist, score, als_score,
    ranker_score``; seeds no generator knows are listed in ``attrs["unknown_seeds"]``.
    """
    plays = _seed_plays(seed_artists)
    history = pd.DataFrame(
        {"user": NEW_LISTENER_KEY, "artist": plays.index.to_numpy(), "plays": plays.to_numpy()}
    )
    n_candidates = int(choice.get("candidates_n", 100))  # as many per generator as batch serving
    cands = collect_candidates(
        iter_candidates(models, history, [NEW_LISTENER_KEY], n_candidates, num_threads=num_threads)
    )
    cands = cands[~cands["artist"].astype(str).isin(plays.index).to_numpy()]
    known = set().union(*(set(np.asarray(m.artists, dtype=str)) for m in models.models.values()))
    # Item rows are independent (z-statistics are already applied), so only the seeds and the
    # candidates are needed: keeps a web request fast at 160k artists.
    needed = set(plays.index) | set(cands["artist"].astype(str))
    items = item_features[item_features["artist"].isin(needed)].drop(
        columns="stage", errors="ignore"
    )
    items = items.reset_index(drop=True)
    tables = prepare_tables(user_profiles(history, items), items)
    out = rank_candidates(
        cands.reset_index(drop=True),
        tables,
        booster,
        choice,
        n,
        use_ranker=bool(choice["use_ranker"]),
        num_threads=num_threads,
    )
    out = out[["rank", "artist", "score", "als_score", "ranker_score"]].reset_index(drop=True)
    out["artist"] = out["artist"].astype(str)
    out.attrs["unknown_seeds"] = sorted(set(plays.index) - known)
    return out
