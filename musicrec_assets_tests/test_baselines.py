"""Popularity and item-kNN baselines: fit data only, seen removed, same top-K layout."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.baselines import itemknn_topk, popularity_topk


def _fit():
    rows = [
        ("u1", "a", 5), ("u1", "b", 1),
        ("u2", "a", 2), ("u2", "c", 1),
        ("u3", "a", 1), ("u3", "b", 9), ("u3", "c", 1),
        ("u4", "d", 1), ("u4", "b", 1),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["user", "artist", "plays"])


def test_popularity_by_listeners_then_plays_then_key_with_seen_removed():
    fit = _fit()
    # listeners: a 3, b 3 (plays 11 > a's 8), c 2, d 1  -> b, a, c, d
    top = popularity_topk(fit, ["u1", "u4", "new"], fit, k=2)
    assert list(top.columns) == ["user", "rank", "artist", "score"]
    got = {u: g["artist"].tolist() for u, g in top.groupby("user")}
    assert got == {"u1": ["c", "d"], "u4": ["a", "c"], "new": ["b", "a"]}
    assert top[top["user"] == "new"]["score"].tolist() == [3.0, 3.0]
    assert top["user"].tolist() == ["new", "new", "u1", "u1", "u4", "u4"]
    assert top["rank"].tolist() == [1, 2, 1, 2, 1, 2]


def test_popularity_reaches_k_for_heavy_listeners():
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"a{a}", 1) for u in range(50) for a in rng.choice(300, 20, replace=False)]
    heavy = [("heavy", f"a{a}", 1) for a in range(250)]
    fit = pd.DataFrame(rows + heavy, columns=["user", "artist", "plays"])
    top = popularity_topk(fit, ["heavy", "u0"], fit, k=10)
    h = top[top["user"] == "heavy"]
    assert len(h) == 10 and not set(h["artist"]) & {f"a{a}" for a in range(250)}
    assert h["rank"].tolist() == list(range(1, 11))


@pytest.mark.parametrize("kind", ["cosine", "bm25"])
def test_itemknn_recommends_co_listened_unseen_artists(kind):
    rows = []
    for u in range(30):  # two tastes: x-artists and y-artists
        group = "x" if u % 2 else "y"
        for a in range(4):
            if (u + a) % 5:
                rows.append((f"u{u}", f"{group}{a}", 1 + (u + a) % 3))
    fit = pd.DataFrame(rows, columns=["user", "artist", "plays"])
    users = ["u1", "u2", "stranger"]
    top = itemknn_topk(fit, users, fit, k=3, kind=kind)
    assert list(top.columns) == ["user", "rank", "artist", "score"]
    assert "stranger" not in set(top["user"])
    for user, g in top.groupby("user"):
        seen = set(fit.loc[fit["user"] == user, "artist"])
        assert not set(g["artist"]) & seen
        group = "x" if int(user[1:]) % 2 else "y"
        assert g["artist"].str.startswith(group).all()
        assert g["score"].is_monotonic_decreasing
        assert g["rank"].tolist() == list(range(1, len(g) + 1))


def test_itemknn_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        itemknn_topk(_fit(), ["u1"], _fit(), 2, kind="jaccard")
