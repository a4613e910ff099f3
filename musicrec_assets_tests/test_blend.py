"""Per-listener normalisation, the blend, α choice and deterministic top-K."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.model.blend import (
    CONSTANT_SCORE,
    blend,
    choose_alpha,
    normalise_per_user,
    topk,
)


def _frame():
    return pd.DataFrame(
        {
            "user": ["u", "u", "u", "v", "v", "w", "w"],
            "artist": ["a", "b", "c", "a", "b", "a", "b"],
            "als_score": [0.9, 0.5, 0.1, 0.3, 0.2, 0.4, 0.4],
            "ranker_score": [-2.0, 0.0, 6.0, 100.0, 300.0, 1.0, np.nan],
        }
    )


def test_normalise_is_per_user_min_max_with_constant_groups_at_half():
    df = _frame()
    als = normalise_per_user(df, "als_score").to_numpy()
    np.testing.assert_allclose(als, [1.0, 0.5, 0.0, 1.0, 0.0, CONSTANT_SCORE, CONSTANT_SCORE])
    ranker = normalise_per_user(df, "ranker_score").to_numpy()
    np.testing.assert_allclose(ranker[:5], [0.0, 0.25, 1.0, 0.0, 1.0])
    assert ranker[5] == CONSTANT_SCORE and np.isnan(ranker[6])


def test_blend_mixes_normalised_scores_and_falls_back_to_als_on_nan():
    df = _frame()
    s = blend(df, 0.25).to_numpy()
    np.testing.assert_allclose(s[:3], [0.75, 0.25 * 0.25 + 0.75 * 0.5, 0.25])
    assert s[6] == CONSTANT_SCORE  # NaN ranker: ALS only
    np.testing.assert_allclose(blend(df, 0.0), normalise_per_user(df, "als_score"))


def test_scaling_one_users_ranker_scores_does_not_change_the_ranking():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "user": np.repeat(["u", "v", "w"], 20),
            "artist": np.tile([f"a{i:02d}" for i in range(20)], 3),
            "als_score": rng.random(60),
            "ranker_score": rng.normal(size=60),
        }
    )
    scaled = df.copy()
    scaled.loc[scaled["user"] == "v", "ranker_score"] *= 100.0
    scaled.loc[scaled["user"] == "w", "ranker_score"] += 1e3
    a = topk(df.assign(score=blend(df, 0.6)), "score", 10)
    b = topk(scaled.assign(score=blend(scaled, 0.6)), "score", 10)
    pd.testing.assert_frame_equal(a[["user", "rank", "artist"]], b[["user", "rank", "artist"]])
    np.testing.assert_allclose(a["score"], b["score"])


def test_topk_breaks_ties_by_artist_and_is_order_independent():
    df = pd.DataFrame(
        {
            "user": ["u"] * 4 + ["v"] * 2,
            "artist": ["d", "b", "c", "a", "x", "y"],
            "score": [1.0, 1.0, 2.0, 1.0, np.nan, 0.0],
        }
    )
    out = topk(df, "score", 3)
    assert out[out["user"] == "u"]["artist"].tolist() == ["c", "a", "b"]
    assert out[out["user"] == "v"]["artist"].tolist() == ["y", "x"]  # NaN last
    assert out["rank"].tolist() == [1, 2, 3, 1, 2]
    shuffled = topk(df.sample(frac=1.0, random_state=3), "score", 3)
    pd.testing.assert_frame_equal(out, shuffled)


def test_choose_alpha_finds_the_informative_score():
    # ranker knows the relevant artist, ALS does not: α = 1 should win.
    rows = []
    for u in range(30):
        for a in range(10):
            rows.append((f"u{u}", f"a{a}", float(a), float(a == u % 10)))
    df = pd.DataFrame(rows, columns=["user", "artist", "als_score", "ranker_score"])
    labels = pd.DataFrame(
        {"user": [f"u{u}" for u in range(30)], "artist": [f"a{u % 10}" for u in range(30)]}
    )
    alpha, sweep = choose_alpha(df, labels, (0.0, 0.5, 1.0), k=1, n_catalogue=10)
    assert alpha in (0.5, 1.0)
    assert [s["alpha"] for s in sweep] == [0.0, 0.5, 1.0]
    assert sweep[0]["ndcg"] < sweep[-1]["ndcg"] == pytest.approx(1.0)
    # equal scores everywhere: ties go to the smaller α.
    flat = df.assign(ranker_score=df["als_score"])
    assert choose_alpha(flat, labels, (0.0, 0.5, 1.0), k=1, n_catalogue=10)[0] == 0.0
